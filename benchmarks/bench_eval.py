"""Time retrieval evaluation: a per-query numpy loop of the reference definition vs `vts_nb.metrics`,
and faiss's IndexBinaryFlat top-k vs `vts_nb.search.HammingIndex`. Prints one markdown table, the
speed-ups of our exact mAP (ties by index: the compiled counting pass on CPU) over both loops side by
side, the time of the first call (numba compiles the kernels, or loads them from their on-disk cache),
this machine's limit (a compiled loop that only sums popcount(q XOR d) over every pair, on the same
threads: the least work any exact search or evaluation must do), each figure as a fraction of it, and
whether the targets are met: our top-k <= 1.0x faiss's time, our mAP >= 30x loop (a').

    python benchmarks/bench_eval.py                 # 1,000 x 54,000 at 16/32/64 bits, then 5,000 x 200,000
    python benchmarks/bench_eval.py --no-big        # skip the large row

Codes are `synthetic_codes` (noisy copies of 10 random class centres, 20% of bits flipped).
Fast timings are the best of `--repeat` runs; the slow loops run once (on a subset of queries for
the large row, scaled up linearly: the loop's cost is the same for every query). Each figure is
wall-clock seconds followed by the process's CPU seconds (all threads) in brackets.
"""
import argparse, os, platform, time

import faiss
import numba
import numpy as np
import torch
from numba import njit

from vts_nb.metrics import (map_chunks, mean_average_precision, pack_bits, popcount, prepare_codes, synthetic_codes,
                            thread_chunks)
from vts_nb.search import HammingIndex


@njit(nogil=True, cache=True)
def popcount_sum(qw, dwT):
    "Sum of popcount(q XOR d) over every (query, item) pair: reading the codes and counting bits, nothing else."
    total = 0
    for i in range(qw.shape[0]):
        s = np.uint64(0)
        for w in range(dwT.shape[0]):
            for j in range(dwT.shape[1]): s += popcount(qw[i, w] ^ dwT[w, j])
        total += s
    return total


def machine_limit(qB, dB):
    "popcount_sum over all pairs on the threads our kernels use: the code words are the ones our kernels read."
    qw, dwT = prepare_codes(qB), np.ascontiguousarray(prepare_codes(dB).T)
    return sum(map_chunks(lambda s: popcount_sum(qw[s], dwT), thread_chunks(len(qw)), False))


def loop_map(qB, dB, qL, dL, topk, kind):
    """mAP@topk the way the reference evaluator computes it: one query at a time, float32 numpy,
    `np.argsort(kind=kind)` over the float distances; kind='stable' breaks ties by database index."""
    bits, total = qB.shape[1], 0.0
    for i in range(len(qB)):
        rel = (dL @ qL[i] > 0).astype(np.float32)
        dist = 0.5 * (bits - dB @ qB[i])
        hit = rel[np.argsort(dist, kind=kind)][:topk]
        pos = np.flatnonzero(hit) + 1.0                           # 1-based ranks of the relevant items
        if len(pos): total += np.mean(np.arange(1, len(pos) + 1) / pos)
    return total / len(qB)


def timed(f):
    "(wall seconds, CPU seconds, result) of one call"
    w, c = time.perf_counter(), time.process_time()
    out = f()
    return time.perf_counter() - w, time.process_time() - c, out


def best_of(f, repeat):
    "(wall seconds, CPU seconds, result) of the fastest of `repeat` calls"
    return min((timed(f) for _ in range(repeat)), key=lambda t: t[0])


def fmt(t, scale=1.0):
    "wall [CPU] seconds"
    return f'{t[0] * scale:.3g} s [{t[1] * scale:.3g}]'


def row(nq, nd, bits, k, repeat, loop_queries):
    qB, dB, qL, dL = synthetic_codes(nq, nd, bits, flip=0.2, seed=bits)
    n_loop = min(nq, loop_queries)
    scale = nq / n_loop
    qn, dn, qln, dln = (x.numpy() for x in (qB, dB, qL, dL))
    mean_average_precision(qB[:2], dB[:100], qL[:2], dL[:100]); HammingIndex(dB[:100]).search(qB[:2], 5)   # compile
    *t_stable, m_loop = timed(lambda: loop_map(qn[:n_loop], dn, qln[:n_loop], dln, nd, 'stable'))
    *t_vts, _ = timed(lambda: loop_map(qn[:n_loop], dn, qln[:n_loop], dln, nd, None))
    *t_ours, m_ours = best_of(lambda: mean_average_precision(qB, dB, qL, dL, topk=nd), repeat)
    m_sub = mean_average_precision(qB[:n_loop], dB, qL[:n_loop], dL, topk=nd)
    assert abs(m_sub - m_loop) < 1e-9, (m_sub, m_loop)                # same definition, same tie order
    *t_exp, m_exp = best_of(lambda: mean_average_precision(qB, dB, qL, dL, topk=nd, ties='expected'), repeat)
    index = HammingIndex(dB)
    *t_topk, (D, I) = best_of(lambda: index.search(qB, k), repeat)
    packed, qp = pack_bits(dB), pack_bits(qB)
    flat = faiss.IndexBinaryFlat(8 * packed.shape[1]); flat.add(packed)
    threads = faiss.omp_get_max_threads()
    *t_faiss, (Df, If) = best_of(lambda: flat.search(qp, k), repeat)  # faiss's default threads
    faiss.omp_set_num_threads(1)                                        # and one thread: on a busy machine
    *t_faiss1, _ = best_of(lambda: flat.search(qp, k), repeat)         # OpenMP's spinning can cost 10x
    faiss.omp_set_num_threads(threads)
    t_faiss_best = min(t_faiss, t_faiss1, key=lambda t: t[0])
    assert (D.numpy() == Df).all() and (I.numpy() == If).all()        # identical top-k
    machine_limit(qB[:2], dB)                                          # compile or load the kernel
    *t_limit, _ = best_of(lambda: machine_limit(qB, dB), repeat)
    t_gpu = None
    if torch.cuda.is_available():
        qg, dg, lqg, ldg = (x.cuda() for x in (qB, dB, qL, dL))
        def gpu_map():
            m = mean_average_precision(qg, dg, lqg, ldg, topk=nd); torch.cuda.synchronize(); return m
        gpu_map()
        *t_gpu, m_gpu = best_of(gpu_map, repeat)
        assert abs(m_gpu - m_ours) < 1e-9
    return dict(size=f'{nq:,} × {nd:,}', bits=bits, mAP=m_ours, mAP_exp=m_exp, loop_q=n_loop, scale=scale,
                t_stable=t_stable, t_vts=t_vts, t_ours=t_ours, t_exp=t_exp, t_gpu=t_gpu,
                t_topk=t_topk, t_faiss=t_faiss, t_faiss1=t_faiss1, t_faiss_best=t_faiss_best, t_limit=t_limit, pairs=nq * nd, code_bytes=prepare_codes(dB[:1]).nbytes)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--queries', type=int, default=1000)
    p.add_argument('--db', type=int, default=54000)
    p.add_argument('--bits', type=int, nargs='+', default=[16, 32, 64])
    p.add_argument('--k', type=int, default=100, help='top-k for the search comparison')
    p.add_argument('--repeat', type=int, default=3, help='fast timings are the best of this many runs')
    p.add_argument('--big', action=argparse.BooleanOptionalAction, default=True, help='add 5,000 × 200,000 at 64 bits')
    p.add_argument('--big-loop-queries', type=int, default=250, help='queries the loops run on in the large row')
    a = p.parse_args()
    qB, dB, qL, dL = synthetic_codes(4, 100, 16)
    t_first = time.perf_counter()
    mean_average_precision(qB, dB, qL, dL)                            # first call: compile, or load the cached kernel
    t_first = time.perf_counter() - t_first
    t_search = time.perf_counter()
    HammingIndex(dB).search(qB, 5)
    t_search = time.perf_counter() - t_search
    print(f'# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; '
          f'numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), '
          f'faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads), '
          f"numba {numba.__version__}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, CUDA: {torch.cuda.is_available()}")
    print(f'# first mAP call (numba kernel compiled or loaded from cache): {t_first:.2f} s; first search call: {t_search:.2f} s')
    rows = [row(a.queries, a.db, b, a.k, a.repeat, a.queries) for b in a.bits]
    if a.big: rows.append(row(5000, 200000, 64, a.k, 1, a.big_loop_queries))
    print('\n| queries × db | bits | mAP (index / expected ties) | (a) loop, stable sort | (a′) loop, VTS default sort | (b) ours mAP, ties=index | (a)/(b) | (a′)/(b) '
          f'| ours, ties=expected | ours on GPU | (c) faiss top-{a.k} | faiss, 1 thread | our top-{a.k} '
          '| ours / faiss\'s best |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        note = '' if r['scale'] == 1 else f" ({r['loop_q']} queries ×{r['scale']:g})"
        gpu = 'n/a' if r['t_gpu'] is None else f"{r['t_gpu'][0] * 1e3:.1f} ms"
        print(f"| {r['size']} | {r['bits']} | {r['mAP']:.4f} / {r['mAP_exp']:.4f} | {fmt(r['t_stable'], r['scale'])}{note} "
              f"| {fmt(r['t_vts'], r['scale'])}{note} | {fmt(r['t_ours'])} | {r['t_stable'][0] * r['scale'] / r['t_ours'][0]:.1f}× "
              f"| {r['t_vts'][0] * r['scale'] / r['t_ours'][0]:.1f}× | {fmt(r['t_exp'])} | {gpu} | {fmt(r['t_faiss'])} "
              f"| {fmt(r['t_faiss1'])} | {fmt(r['t_topk'])} | {r['t_topk'][0] / r['t_faiss_best'][0]:.2f}× |")
    print('\nThis machine\'s limit: a compiled loop summing popcount(q XOR d) over every pair, nothing else, on the same '
          'threads; each figure as pairs per second and as a fraction of that limit.\n')
    print('| queries × db | bits | limit: pairs/s (code bytes read/s) | ours mAP: pairs/s (of limit) '
          '| our top-k: pairs/s (of limit) | faiss top-k, best: pairs/s (of limit) |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        lim = r['pairs'] / r['t_limit'][0]
        rate = lambda t: f"{r['pairs'] / t[0]:.3g} ({r['pairs'] / t[0] / lim:.0%})"
        print(f"| {r['size']} | {r['bits']} | {lim:.3g} ({lim * r['code_bytes'] / 1e9:.3g} GB/s) | {rate(r['t_ours'])} "
              f"| {rate(r['t_topk'])} | {rate(r['t_faiss_best'])} |")
    small = [r for r in rows if r['scale'] == 1]
    topk = [r['t_topk'][0] / r['t_faiss_best'][0] for r in small]
    speed = [r['t_vts'][0] * r['scale'] / r['t_ours'][0] for r in rows]
    print(f"\n# target: our top-{a.k} <= 1.0x faiss's time (the faster of its two settings) at " + '/'.join(str(r['bits']) for r in small) + ' bits: '
          + ('met' if max(topk) <= 1 else 'NOT met') + ' (' + ', '.join(f'{x:.2f}x' for x in topk) + ')')
    print("# target: exact mAP >= 30x loop (a'), the VTS loop as it runs: " + ('met' if min(speed) >= 30 else 'NOT met')
          + ' (' + ', '.join(f'{x:.1f}x' for x in speed) + ')')
    print(f'# load average {os.getloadavg()[0]:.2f} at the end')


if __name__ == '__main__':
    main()
