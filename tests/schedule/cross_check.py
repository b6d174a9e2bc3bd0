#!/usr/bin/env python3
"""Cross-checks `sentiflow schedule` against an independent model of AWS cron rules.

The model below is deliberately naive: it walks the calendar day by day with Python's
datetime and calendar modules, sharing no code or approach with src/schedule/. For random
cron expressions (a fixed seed, so failures are reproducible) and random start times it
compares the next fire times the binary prints with the model's.

Usage: cross_check.py SENTIFLOW [--seed N] [--count N]
Exit status 0 when every expression agrees, 1 otherwise (each difference is printed).
"""
import argparse
import calendar
import datetime as dt
import random
import subprocess
import sys

MONTHS = {n: i + 1 for i, n in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
DAYS = {n: i + 1 for i, n in enumerate("SUN MON TUE WED THU FRI SAT".split())}


def value(text, names):
    text = text.upper()
    return names[text] if names and text in names else int(text)


def expand(field, lo, hi, names=None):
    """The set of values a `, - * /` field stands for."""
    out = set()
    for item in field.split(","):
        base, step = (item.split("/") + ["1"])[:2] if "/" in item else (item, "1")
        step = int(step)
        if base == "*":
            a, b = lo, hi
        elif "-" in base:
            x, y = base.split("-")
            a, b = value(x, names), value(y, names)
        else:
            a = value(base, names)
            b = hi if "/" in item else a
        out.update(range(a, b + 1, step))
    return out


def weekday(d):  # AWS numbering: 1 = Sunday
    return (d.weekday() + 1) % 7 + 1


def nearest_weekday(year, month, n, last):
    x = dt.date(year, month, n)
    if x.weekday() == 5:  # Saturday: Friday before, unless that leaves the month
        x = x - dt.timedelta(1) if n > 1 else x + dt.timedelta(2)
    elif x.weekday() == 6:  # Sunday: Monday after, unless that leaves the month
        x = x + dt.timedelta(1) if n < last else x - dt.timedelta(2)
    return x.day


def day_matches(dom, dow, d):
    last = calendar.monthrange(d.year, d.month)[1]
    if dom != "?":
        D = dom.upper()
        if D == "L":
            return d.day == last
        if D == "LW":
            x = dt.date(d.year, d.month, last)
            while x.weekday() >= 5:
                x -= dt.timedelta(1)
            return d.day == x.day
        if D.endswith("W"):
            n = int(D[:-1])
            return n <= last and d.day == nearest_weekday(d.year, d.month, n, last)
        return d.day in expand(dom, 1, 31)
    D = dow.upper()
    if "#" in D:
        w, k = D.split("#")
        return weekday(d) == value(w, DAYS) and (d.day - 1) // 7 + 1 == int(k)
    if D == "L":
        return weekday(d) == 7
    if D.endswith("L"):
        return weekday(d) == value(D[:-1], DAYS) and d.day + 7 > last
    return weekday(d) in expand(dow, 1, 7, DAYS)


def model_next(expression, start, count):
    f = expression[len("cron("):-1].split()
    minutes, hours = sorted(expand(f[0], 0, 59)), sorted(expand(f[1], 0, 23))
    months, years = expand(f[3], 1, 12, MONTHS), expand(f[5], 1970, 2199)
    after = start.replace(second=0) + dt.timedelta(minutes=1)  # strictly after `start`
    times = []
    d = after.date()
    while len(times) < count and d.year <= 2199:
        if d.year in years and d.month in months and day_matches(f[2], f[4], d):
            for h in hours:
                for m in minutes:
                    t = dt.datetime(d.year, d.month, d.day, h, m)
                    if t >= after and len(times) < count:
                        times.append(t)
        d += dt.timedelta(1)
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]


def random_field(rng, lo, hi, names=None):
    r = rng.random()
    if r < 0.25:
        return "*"
    if r < 0.40:
        return f"*/{rng.randint(1, hi - lo + 1)}"
    if r < 0.55:
        a = rng.randint(lo, hi)
        return f"{a}-{rng.randint(a, hi)}"
    if r < 0.65:
        return f"{rng.randint(lo, hi)}/{rng.randint(1, hi - lo + 1)}"
    if r < 0.75:
        a = rng.randint(lo, hi)
        return f"{a}-{rng.randint(a, hi)}/{rng.randint(1, 5)}"
    if r < 0.85 and names:
        return rng.choice(list(names))
    return ",".join(str(rng.randint(lo, hi)) for _ in range(rng.randint(1, 3)))


def random_cron(rng):
    minute, hour = random_field(rng, 0, 59), random_field(rng, 0, 23)
    month = random_field(rng, 1, 12, MONTHS)
    year = rng.choice(["*", "*", "*", f"{rng.randint(2020, 2030)}-{rng.randint(2031, 2060)}",
                       str(rng.randint(2024, 2040)), "2028/4"])
    if rng.random() < 0.5:
        dom = rng.choice(["L", "LW", f"{rng.randint(1, 31)}W", random_field(rng, 1, 31), "29", "30", "31",
                          "1W", "31W", "30W"])
        dow = "?"
    else:
        dom = "?"
        dow = rng.choice(["L", f"{rng.randint(1, 7)}L", f"{rng.choice(list(DAYS))}L",
                          f"{rng.randint(1, 7)}#{rng.randint(1, 5)}", random_field(rng, 1, 7, DAYS)])
    return f"cron({minute} {hour} {dom} {month} {dow} {year})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sentiflow")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=150)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failed = 0
    for _ in range(args.count):
        expression = random_cron(rng)
        start = dt.datetime(rng.randint(2020, 2035), rng.randint(1, 12), rng.randint(1, 28),
                            rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
        since = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        run = subprocess.run([args.sentiflow, "schedule", expression, "--from", since, "--count", "4"],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
        expected = model_next(expression, start, 4)
        if run.returncode != 0 or run.stdout.split() != expected:
            failed += 1
            print(f"DIFF {expression} --from {since}\n  sentiflow: {run.stdout.split()} {run.stderr.strip()}"
                  f"\n  model:     {expected}")
    print(f"{args.count - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
