# Re-scores Experiments `selection=1` logs: which epoch each rule keeps, and its pseudo-test accuracy.
#   python3 docs/evaluation/best-epoch-tolerance/rescore.py docs/evaluation/*/*.log docs/evaluation/*/selection/*.log
# first-max: the original's pick (first highest group validation; ties to the lower loss where the log has it);
# 1SE: the latest epoch within one standard error of it (ClassifierObjective.IsWithinStandardErrors); last: the last epoch.
import math, re, sys

rows, diffs = [], []
for path in sys.argv[1:]:
    text = open(path).read()
    epochs = re.findall(r'^epoch (\d+): group validation ([\d.]+) %, random validation [\d.]+ %, pseudo-test ([\d.]+) %, \d+ s(?:, group validation loss ([\d.]+))?', text, re.M)
    if not epochs: continue
    n = int(re.search(r'group validation (\d+), random', text).group(1))
    g = [float(e[1]) / 100 for e in epochs]; t = [float(e[2]) for e in epochs]
    loss = [float(e[3]) if e[3] else 0.0 for e in epochs]
    first = min(range(len(g)), key=lambda i: (-g[i], loss[i], i))
    p = (g[first] * n + 1) / (n + 2)
    tol = max(i for i in range(len(g)) if g[i] >= g[first] - math.sqrt(p * (1 - p) / n) - 1e-12)
    rows.append(f'| {path.split("/")[-2]}/{path.split("/")[-1]} | {n} | {len(g)} | e{first + 1} → {t[first]:.1f} % | e{tol + 1} → {t[tol]:.1f} % | {t[-1]:.1f} % | {max(t):.1f} % |')
    diffs.append(t[tol] - t[first])
print('| run | validation files | epochs | first best → pseudo-test | latest within 1 SE → pseudo-test | last epoch | best epoch |')
print('|---|---|---|---|---|---|---|')
print('\n'.join(rows))
print(f'\n1SE − first-max: mean {sum(diffs) / len(diffs):+.2f} points over {len(diffs)} runs; higher {sum(d > 0 for d in diffs)}, lower {sum(d < 0 for d in diffs)}, same {sum(d == 0 for d in diffs)}; range {min(diffs):+.1f} to {max(diffs):+.1f}')
