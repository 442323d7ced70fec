"""Scale: `HammingIndex` with the IVF backend (faiss IndexBinaryIVF) on a synthetic database of 10^7 64-bit codes,
against the exact search on the same codes. Prints the memory and time of building, the time per query and the
recall@k of the IVF at several `nprobe` (the default marked), and the saved file's size and load time.

    python benchmarks/bench_ivf.py                    # 10^7 codes, 1,000 queries, k = 100
    python benchmarks/bench_ivf.py --n 1000000        # a quicker run

The codes look like hash codes of a large collection: 10^4 random 64-bit "concept" centres, every code a copy of one
centre with each bit flipped with probability 0.1 (queries drawn the same way). Recall@k is the fraction of the exact
top-k (ties by index in both) that the IVF returns. Times are wall-clock seconds on all threads; memory is the growth
of the process's resident set (VmRSS).
"""
import argparse, os, platform, tempfile, time
from pathlib import Path

import faiss
import numpy as np
import torch

from vts_nb.search import HammingIndex


def rss_gb():
    "The process's resident set, GB."
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 2**20


def clustered_codes(n, centres, flip, rng, chunk=10**6):
    "n packed 64-bit codes (n, 8) uint8: random centres with each bit flipped with probability `flip`."
    out = np.empty((n, 8), np.uint8)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        bits = np.unpackbits(centres[rng.integers(0, len(centres), m)], axis=1) ^ (rng.random((m, 64)) < flip)
        out[s:s + m] = np.packbits(bits, axis=1)
    return out


def recall(I, exact):
    "Mean fraction of each row of `exact` found in the same row of `I`."
    return np.mean([len(np.intersect1d(a, b)) / len(b) for a, b in zip(I, exact)])


def timed(f):
    t = time.perf_counter(); out = f(); return time.perf_counter() - t, out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n', type=int, default=10**7, help='database codes')
    p.add_argument('--queries', type=int, default=1000)
    p.add_argument('--k', type=int, default=100)
    p.add_argument('--nlist', type=int, default=None, help='IVF lists (default: the index default, about sqrt(n))')
    p.add_argument('--nprobe', type=int, nargs='+', default=[1, 4, 16, 64, 256])
    p.add_argument('--faiss-threads', type=int, default=None,
                   help="faiss's OpenMP threads (default: its own; 1 avoids OpenMP spinning on a busy machine)")
    a = p.parse_args()
    if a.faiss_threads: faiss.omp_set_num_threads(a.faiss_threads)
    print(f'# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} '
          f'at start; faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads), torch threads '
          f'{torch.get_num_threads()}')
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 256, (10**4, 8), dtype=np.uint8)
    t_gen, db = timed(lambda: clustered_codes(a.n, centres, 0.1, rng))
    q = torch.from_numpy(np.unpackbits(clustered_codes(a.queries, centres, 0.1, rng), axis=1)).float() * 2 - 1
    print(f'# {a.n:,} codes generated in {t_gen:.1f} s ({db.nbytes / 1e6:.0f} MB packed); {a.queries:,} queries, k = {a.k}')

    exact = HammingIndex.from_packed(db, 64)
    m0 = rss_gb()
    t_exact, (De, Ie) = timed(lambda: exact.search(q, a.k))          # first search: builds the blocked layout
    m_exact = rss_gb() - m0
    t_exact2, _ = timed(lambda: exact.search(q, a.k))
    print(f'\nexact: {t_exact2 / a.queries * 1e3:.2f} ms per query ({t_exact2:.2f} s for {a.queries:,}; first call '
          f'{t_exact:.2f} s with the blocked copy), +{m_exact:.2f} GB for the words the kernel reads')

    m0 = rss_gb()
    ivf = HammingIndex.from_packed(db, 64, backend='ivf', nlist=a.nlist)
    default = ivf.nprobe
    t_build, _ = timed(ivf._ivf_index)                                  # train (k-means) and fill the lists
    m_ivf = rss_gb() - m0
    print(f'ivf: nlist {ivf.nlist}, built in {t_build:.1f} s (k-means on {min(a.n, 40 * ivf.nlist):,} codes, then '
          f'{a.n:,} assigned), +{m_ivf:.2f} GB ({m_ivf * 2**30 / a.n:.1f} bytes per code)\n')
    print(f'| nprobe | codes scanned per query | ms per query | recall@{a.k} | speed-up over exact |')
    print('|---|---|---|---|---|')
    for nprobe in sorted(set(a.nprobe) | {default}):
        if nprobe > ivf.nlist: continue
        ivf.nprobe = nprobe
        t, (D, I) = timed(lambda: ivf.search(q, a.k))
        mark = ' (default)' if nprobe == default else ''
        print(f'| {nprobe}{mark} | {a.n * nprobe / ivf.nlist:,.0f} | {t / a.queries * 1e3:.3f} | '
              f'{recall(I.numpy(), Ie.numpy()):.3f} | {t_exact2 / t:.1f}× |')
    ivf.nprobe = default
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'ivf.safetensors'
        t_save, _ = timed(lambda: ivf.save(path))
        t_load, back = timed(lambda: HammingIndex.load(path, backend='ivf'))
        same = all((x == y).all() for x, y in zip(back.search(q[:100], a.k), ivf.search(q[:100], a.k)))
        print(f'\nsaved in {t_save:.1f} s: {path.stat().st_size / 1e6:.0f} MB (codes + IVF); loaded in {t_load:.1f} s, '
              f'no training, same results: {same}')
    print(f'# load average {os.getloadavg()[0]:.2f} at the end')


if __name__ == '__main__':
    main()
