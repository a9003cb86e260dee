"""Benchmark the HTML report on a large synthetic store, and the headless browser that checks it.

    python -m loop.bench_report --attempts 100000

builds a synthetic run with that many attempts (loop/synthetic_run.py), times
`ratchet report` on it as a subprocess, and opens the file in headless
Chromium to time the page load, the first table render and a search.

``HeadlessChromium`` drives Debian's chromium over the DevTools protocol on a
pipe (``--remote-debugging-pipe``: NUL-separated JSON on fds 3 and 4), so no
websocket client or port is needed. The browser test uses it too. It owns its
process: a new session (process group) started here, killed by that group id
on close.
"""
from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe"]


class BrowserError(RuntimeError):
    """Chromium died, or did not answer in time."""


class HeadlessChromium:
    """A headless Chromium with one page, driven over the DevTools protocol.

    Events are kept in ``events`` (method, params) so callers can look for
    exceptions and console errors after the fact.
    """

    def __init__(self, binary: str = CHROMIUM, width: int = 1400, height: int = 1000, timeout: float = 60.0):
        self.timeout = timeout
        self.events: list[tuple[str, dict]] = []
        self._next_id = 0
        self._consumed = 0  # events before this index were already returned by wait_event
        self._buf = b""
        self._profile = tempfile.mkdtemp(prefix="ratchet-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. Copy the pipe ends to high fds first,
        # so the dup2 onto 3 and 4 in the child cannot clobber one of them. Only 3 and 4 are inheritable
        # (dup2 clears close-on-exec; every other fd Python opens has it), hence close_fds=False below.
        hi_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 20)
        hi_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 20)
        os.close(to_child_r)
        os.close(from_child_w)

        def child_fds() -> None:
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.log_path = Path(self._profile) / "chromium.log"
        self._log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, close_fds=False,
                preexec_fn=child_fds, start_new_session=True)
        finally:
            os.close(hi_r)
            os.close(hi_w)
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=True)
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)
        except BaseException:
            self.close()
            raise

    # -- protocol ---------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer from chromium within {self.timeout:.0f} s (log: {self.log_path})")
            ready, _, _ = select.select([self._from_child], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise BrowserError(f"chromium exited (code {self.proc.poll()}); log: {self.log_path}")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: bool = False,
             timeout: float | None = None) -> dict:
        """Send one command and wait for its result; events that arrive meanwhile are recorded."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append((reply["method"], reply.get("params", {})))

    def wait_event(self, method: str, timeout: float | None = None) -> dict:
        """Wait for an event of this kind that no earlier wait consumed; returns its params."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i in range(self._consumed, len(self.events)):
                if self.events[i][0] == method:
                    self._consumed = i + 1
                    return self.events[i][1]
            reply = self._read_message(deadline)
            if "method" in reply:
                self.events.append((reply["method"], reply.get("params", {})))

    # -- page helpers ---------------------------------------------------------------------
    def open(self, url: str) -> float:
        """Navigate and wait for the load event; returns the seconds it took."""
        self._consumed = len(self.events)
        t0 = time.perf_counter()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_event("Page.loadEventFired")
        return time.perf_counter() - t0

    def eval(self, expression: str) -> Any:
        """Evaluate JS in the page and return its value (JSON-serialisable results only)."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, session=True)
        if "exceptionDetails" in res:
            raise BrowserError(f"JS exception evaluating {expression[:60]!r}: "
                               f"{res['exceptionDetails'].get('text')}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 20.0, interval: float = 0.05) -> Any:
        """Poll a JS expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression!r}")
            time.sleep(interval)

    def type_text(self, selector: str, text: str) -> None:
        """Focus an element and type into it as a user would (input events fire)."""
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", {"text": text}, session=True)

    def screenshot(self, path: str | Path, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.call("Page.captureScreenshot", params, session=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def js_errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and error-level log entries seen so far."""
        out = []
        for method, p in self.events:
            if method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('text')} {(d.get('exception') or {}).get('description', '')}")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                        for a in p.get("args", [])))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                out.append(f"log ({e.get('source')}): {e.get('text')} {e.get('url', '')}".strip())
        return out

    def requested_urls(self) -> list[str]:
        """Every URL the page asked for so far (documents, scripts, images, fetches)."""
        return [p["request"]["url"] for m, p in self.events if m == "Network.requestWillBeSent"]

    def close(self) -> None:
        """Ask Chromium to quit, then kill its whole process group (ours: started with a new session)."""
        if self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=5)
            except (BrowserError, OSError):
                pass  # it is killed below either way
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # helpers (zygote, renderers) share the group
        except ProcessLookupError:
            pass
        self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "HeadlessChromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- the benchmark -------------------------------------------------------------------------

def bench(attempts: int, rounds: int, workdir: Path, search_id: str | None = None) -> dict:
    from loop.store import Store
    from loop.synthetic_run import make_synthetic_run

    t0 = time.perf_counter()
    run_dir = make_synthetic_run(workdir / "run", n_attempts=attempts, rounds=rounds, seed=1)
    t_build_store = time.perf_counter() - t0
    out = workdir / "report.html"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "loop.cli", "report", str(run_dir), "-o", str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ratchet report failed ({proc.returncode}): {proc.stderr.strip()}")
    t_report = time.perf_counter() - t0
    store = Store(run_dir / "run.db", readonly=True)
    stored = store.attempt_count()
    store.close()
    result: dict[str, Any] = {"attempts": stored, "rounds": rounds + 1, "store_build_s": round(t_build_store, 2),
                              "report_s": round(t_report, 2), "html_bytes": out.stat().st_size}
    if not Path(CHROMIUM).exists():
        result["browser"] = f"skipped: {CHROMIUM} not installed"
        return result
    with HeadlessChromium() as browser:
        t0 = time.perf_counter()
        result["load_event_s"] = round(browser.open(out.resolve().as_uri()), 2)
        browser.wait_for("window.ratchetReport && window.ratchetReport.ready")
        result["ready_s"] = round(time.perf_counter() - t0, 2)
        result["rows_rendered"] = browser.eval("document.querySelectorAll('#table tbody tr').length")
        tid = search_id or browser.eval("document.querySelector('#table tbody tr td:nth-child(3)').textContent")
        before = browser.eval("document.getElementById('count').dataset.count")
        t0 = time.perf_counter()
        browser.type_text("#search", tid)
        browser.wait_for(f"document.getElementById('count').dataset.count !== {json.dumps(before)}")
        result["search_s_including_debounce"] = round(time.perf_counter() - t0, 2)
        result["search_matches"] = int(browser.eval("document.getElementById('count').dataset.count"))
        t0 = time.perf_counter()
        browser.eval("document.getElementById('search').value = 'lia'; "
                     "document.getElementById('search').dispatchEvent(new Event('input'))")
        browser.wait_for("document.getElementById('count').dataset.count !== "
                         f"{json.dumps(str(result['search_matches']))}")
        result["text_search_s_including_debounce"] = round(time.perf_counter() - t0, 2)
        # A select filter runs synchronously in its change handler: time it inside the page, no debounce.
        result["filter_ms"] = round(browser.eval(
            "(() => { const e = document.getElementById('f-verdict'), t = performance.now(); e.value = '1';"
            " e.dispatchEvent(new Event('change')); return performance.now() - t; })()"), 1)
        result["next_page_ms"] = round(browser.eval(
            "(() => { const t = performance.now(); document.getElementById('next').click();"
            " return performance.now() - t; })()"), 1)
        result["js_errors"] = browser.js_errors()
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--attempts", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=4, help="training rounds after round 0")
    ap.add_argument("--keep", type=Path, default=None, help="keep the run and the report in this directory")
    args = ap.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        result = bench(args.attempts, args.rounds, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="ratchet-bench-") as tmp:
            result = bench(args.attempts, args.rounds, Path(tmp))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
