#!/usr/bin/env python3
"""Key press -> new rows on screen, measured on the real console (a measurement, not a test).

Drives `hubdeck demo` (release build) on the bench dataset in a private tmux server (200x60,
`-f /dev/null`, escape-time 0) and times each action from the moment `tmux send-keys` returns to
the first `capture-pane` that shows the new rows with no "loading" spinner. A cursor move (no
I/O) is timed the same way in the same run: the difference is what the action costs beyond a
redraw. The polling resolution is one `tmux capture-pane` (a process start, 1-3 ms).
It also prints launch -> first frame and launch -> Mandates rows on screen (`hubdeck demo` with
the cluster stopped, so both include starting it), and the console's peak resident memory
(VmHWM) after all the actions.

Run (after `cargo bench --bench budgets` has generated the dataset, or with any bench-scale
demo data dir):

    cargo build --release --bin hubdeck
    python3 benches/console_latency.py            # ROUNDS=5 by default

Environment: HUBDECK_BIN (default target/release/hubdeck), HUBDECK_DATA_DIR (default
target/bench-data), HUBDECK_DEMO_SCALE (default bench; `demo` tries the script on a small
dataset), ROUNDS.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.path.abspath(os.environ.get("HUBDECK_BIN", "target/release/hubdeck"))
DATA = os.path.abspath(os.environ.get("HUBDECK_DATA_DIR", "target/bench-data"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
TMP = tempfile.mkdtemp(prefix="hubdeck-latency-")
SOCK = os.path.join(TMP, "tmux.sock")


def tmux(*args, out=False):
    cmd = ["tmux", "-S", SOCK, "-f", "/dev/null", *args]
    if out:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    subprocess.run(cmd, check=True)
    return ""


def cap():
    return tmux("capture-pane", "-p", out=True)


def body(screen):
    """The table rows: every line but the top bar and the lines carrying the range label."""
    lines = screen.splitlines()[2:]
    return [l for l in lines if "rows " not in l and "counting" not in l]


def wait(pred, timeout=60.0):
    t0 = time.perf_counter()
    while True:
        s = cap()
        if pred(s):
            return time.perf_counter() - t0, s
        if time.perf_counter() - t0 > timeout:
            raise SystemExit("timed out; screen:\n" + s)


def wait_text(*texts, timeout=120.0):
    return wait(lambda s: all(t in s for t in texts) and "loading" not in s, timeout)[1]


def timed(keys, literal=False):
    """Sends keys; returns seconds until the rows changed and nothing is loading."""
    before = body(cap())
    if literal:
        tmux("send-keys", "-l", keys)
    else:
        tmux("send-keys", *keys)
    dt, screen = wait(lambda s: "loading" not in s and body(s) != before)
    return dt, screen


def search(term):
    """Opens the search box, clears it, types the term; Enter is the timed key."""
    tmux("send-keys", "/")
    tmux("send-keys", *(["BSpace"] * 40))
    tmux("send-keys", "-l", term)
    return timed(["Enter"])


def peak_rss_kb():
    """VmHWM of the `hubdeck` process in the pane (a child of the pane's shell), in kB."""
    pane = tmux("display-message", "-p", "#{pane_pid}", out=True).strip()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            if ppid != pane:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return None


def main():
    if not shutil.which("tmux"):
        raise SystemExit("tmux not installed")
    env = {
        "HUBDECK_DATA_DIR": DATA,
        "HUBDECK_DEMO_SCALE": os.environ.get("HUBDECK_DEMO_SCALE", "bench"),
        "TERM": "xterm-256color",
        "NO_COLOR": "",
    }
    args = ["new-session", "-d", "-x", "200", "-y", "60"]
    for k, v in env.items():
        args += ["-e", f"{k}={v}"]
    t_launch = time.perf_counter()
    tmux(*args, "sh", "-c", f'"{BIN}" demo; exec sleep 600')
    tmux("set-option", "-g", "escape-time", "0")
    results = {}
    startup = {}

    def rec(name, dt):
        results.setdefault(name, []).append(dt * 1000.0)

    try:
        wait(lambda s: "Mandates" in s)
        startup["launch → first frame"] = (time.perf_counter() - t_launch) * 1000.0
        wait_text("Mandates", "rows 1–50 of")
        startup["launch → Mandates rows on screen"] = (time.perf_counter() - t_launch) * 1000.0
        time.sleep(1.0)  # let the count arrive
        for _ in range(ROUNDS):
            for _ in range(3):
                rec("cursor move (Down)", timed(["Down"])[0])
            rec("End (mandates)", timed(["End"])[0])
            rec("PgUp from the end (mandates)", timed(["PageUp"])[0])
            rec("Home (mandates)", timed(["Home"])[0])
            rec("/leeds Enter (mandates)", search("leeds")[0])
            search("")  # back to the whole list
            time.sleep(0.3)
        # Members of the 100,000-member mandate (command palette).
        tmux("send-keys", ":")
        tmux("send-keys", "-l", "mandate National Imaging Federation")
        tmux("send-keys", "Enter")
        wait_text("National Imaging Federation", "rows 1–")
        tmux("send-keys", "Enter")  # open the selected mandate: its members
        wait_text("Admin", "Roles", "rows 1–50")
        time.sleep(1.0)
        for _ in range(ROUNDS):
            for _ in range(3):
                rec("cursor move (Down)", timed(["Down"])[0])
            rec("members: sort email ▲", timed(["s"])[0])
            rec("members: sort email ▼", timed(["s"])[0])
            # Back to the default order: cycle through the remaining sortable columns.
            for _ in range(12):
                _, s = timed(["s"])
                if "▲" not in s and "▼" not in s:
                    break
            rec("members: /khan Enter", search("khan")[0])
            search("")
            time.sleep(0.3)
        tmux("send-keys", "Escape")
        time.sleep(0.3)
        tmux("send-keys", "2")
        wait_text("Users", "rows 1–")
        time.sleep(1.0)
        for _ in range(ROUNDS):
            for _ in range(3):
                rec("cursor move (Down)", timed(["Down"])[0])
            rec("users: /turing Enter", search("turing")[0])
            search("")
            time.sleep(0.3)
        rss = peak_rss_kb()
        if rss:
            startup["peak resident memory (VmHWM) of the console after the run"] = rss
    finally:
        try:
            tmux("send-keys", "q")
            time.sleep(2.0)
        finally:
            subprocess.run(["tmux", "-S", SOCK, "kill-server"], check=False)
            shutil.rmtree(TMP, ignore_errors=True)

    for name, v in startup.items():
        if "memory" in name:
            print(f"{name}: {v / 1024.0:.1f} MB")
        else:
            print(f"{name}: {v:.0f} ms")
    print()
    cursor = statistics.median(results["cursor move (Down)"])
    print(f"rounds: {ROUNDS}; cursor move median {cursor:.1f} ms\n")
    # The first round of each action runs on a cold cache (the cluster has just started); it is
    # shown on its own, and the verdict reads the slowest of the later rounds.
    print(
        "| action | median | first round (cold) | max of the later rounds | median − cursor move "
        "| within 50 ms of the cursor move (median / later rounds' max) |"
    )
    print("|---|---|---|---|---|---|")
    for name, v in results.items():
        med = statistics.median(v)
        later = v[1:] if len(v) > 1 else v
        ok_med = "yes" if med - cursor <= 50 else "**no**"
        ok_max = "yes" if max(later) - cursor <= 50 else "**no**"
        print(
            f"| {name} | {med:.1f} ms | {v[0]:.1f} ms | {max(later):.1f} ms | "
            f"{med - cursor:+.1f} ms | {ok_med} / {ok_max} |"
        )


if __name__ == "__main__":
    sys.exit(main())
