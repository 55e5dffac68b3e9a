"""Start a real, single-node OpenSearch 2.19 on 127.0.0.1 for tests.

The node is launched by the small Java program in ``tests/opensearch/``
(``hfaudit.testsupport.OpenSearchLauncher``), built with Maven from Maven
Central jars: no Docker and no OpenSearch distribution download.  It needs
``java`` (17+) and ``mvn`` on PATH; :func:`skip_reason` says what is missing so
tests can skip with a precise reason.

Typical use::

    from opensearch_node import OpenSearchNode, skip_reason

    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with OpenSearchNode() as node:
        requests.get(node.url + "/_cluster/health")

or share one node across the whole pytest session with
:func:`start_session_node` (stopped at interpreter exit).

This module holds no pytest fixtures on purpose.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

LAUNCHER_DIR = Path(__file__).resolve().parent / "opensearch"
MAIN_CLASS = "hfaudit.testsupport.OpenSearchLauncher"
TARGET_DIR = LAUNCHER_DIR / "target"
CLASSES_DIR = TARGET_DIR / "classes"
DEPS_DIR = TARGET_DIR / "deps"
STAMP_FILE = TARGET_DIR / "hfaudit-build.stamp"
BUILD_LOCK = TARGET_DIR / "hfaudit-build.lock"

READY_PREFIX = "OPENSEARCH_READY "
FAILED_PREFIX = "OPENSEARCH_FAILED"

DEFAULT_JVM_OPTS = (
    "-Xms256m",
    "-Xmx768m",
    # C1 only: the node starts faster and burns less CPU on a 2-core box; the
    # tests send little traffic, so peak JIT performance does not matter.
    "-XX:TieredStopAtLevel=1",
    "-XX:-OmitStackTraceInFastThrow",
    "-Dfile.encoding=UTF-8",
    # as in the 2.19 distribution's jvm.options for JDK 9+
    "-Djava.locale.providers=SPI,COMPAT",
)

_MIN_JAVA = 17


class OpenSearchLauncherError(RuntimeError):
    """The launcher could not be built or the node could not be started."""


# --------------------------------------------------------------------------
# tool detection
# --------------------------------------------------------------------------

def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_x"
        major = int(m.group(2))
    return major


def missing_tools() -> list[str]:
    """Names of the tools the launcher needs that are absent (or too old)."""
    missing = []
    java = shutil.which("java")
    if java is None:
        missing.append("java")
    else:
        major = _java_major(java)
        if major is not None and major < _MIN_JAVA:
            missing.append(f"java {_MIN_JAVA}+ (found java {major})")
    if shutil.which("mvn") is None and not _is_built():
        missing.append("mvn")
    return missing


def skip_reason() -> str | None:
    """A pytest skip reason naming what is missing, or None if all is there."""
    missing = missing_tools()
    if not missing:
        return None
    return (
        "real OpenSearch node needs java (17+) and mvn on PATH; missing: "
        + ", ".join(missing)
    )


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------

def _source_fingerprint() -> str:
    h = hashlib.sha256()
    files = [LAUNCHER_DIR / "pom.xml"]
    files += sorted(p for p in (LAUNCHER_DIR / "src").rglob("*") if p.is_file())
    for p in files:
        h.update(str(p.relative_to(LAUNCHER_DIR)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _is_built() -> bool:
    try:
        return (
            STAMP_FILE.read_text().strip() == _source_fingerprint()
            and (CLASSES_DIR / "hfaudit" / "testsupport" / "OpenSearchLauncher.class").is_file()
            and any(DEPS_DIR.glob("opensearch-2.*.jar"))
        )
    except OSError:
        return False


def build_launcher(*, force: bool = False, timeout: float = 1200.0) -> str:
    """Build the launcher if needed and return the java ``-cp`` value.

    Tries an offline Maven build first (fast when ~/.m2 is warm) and falls
    back to an online one.  A file lock makes concurrent callers (e.g.
    pytest-xdist workers) build only once.
    """
    classpath = f"{CLASSES_DIR}{os.pathsep}{DEPS_DIR / '*'}"
    if not force and _is_built():
        return classpath
    mvn = shutil.which("mvn")
    if mvn is None:
        raise OpenSearchLauncherError("mvn is not on PATH; cannot build the OpenSearch launcher")
    TARGET_DIR.mkdir(exist_ok=True)
    with open(BUILD_LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not force and _is_built():
                return classpath
            fingerprint = _source_fingerprint()
            # copy-dependencies never deletes: drop jars of an older pom first
            shutil.rmtree(DEPS_DIR, ignore_errors=True)
            STAMP_FILE.unlink(missing_ok=True)
            attempts = [
                [mvn, "-q", "-B", "-o", "package"],
                [mvn, "-q", "-B", "package"],
            ]
            errors = []
            for cmd in attempts:
                try:
                    res = subprocess.run(
                        cmd, cwd=LAUNCHER_DIR, capture_output=True, text=True,
                        timeout=timeout, stdin=subprocess.DEVNULL,
                    )
                except subprocess.TimeoutExpired:
                    errors.append(f"{' '.join(cmd)}: timed out after {timeout:.0f}s")
                    continue
                if res.returncode == 0:
                    STAMP_FILE.write_text(fingerprint + "\n")
                    return classpath
                tail = (res.stdout + res.stderr)[-3000:]
                errors.append(f"{' '.join(cmd)} exited {res.returncode}:\n{tail}")
            raise OpenSearchLauncherError(
                "building the OpenSearch launcher failed:\n" + "\n---\n".join(errors)
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --------------------------------------------------------------------------
# node
# --------------------------------------------------------------------------

class OpenSearchNode:
    """One OpenSearch node in a child JVM, bound to 127.0.0.1.

    ``url`` is set once :meth:`start` returns.  The node's home (data, logs)
    lives in a fresh temporary directory that :meth:`stop` removes unless
    ``keep_home`` is true.  The JVM's stdout/stderr go to ``stdout.log`` /
    ``node.log`` in that directory (see :meth:`log_tail`).
    """

    def __init__(
        self,
        http_port: int = 0,
        *,
        startup_timeout: float = 180.0,
        jvm_opts: tuple[str, ...] | list[str] = DEFAULT_JVM_OPTS,
        log_level: str = "info",
        keep_home: bool = False,
        base_dir: str | os.PathLike | None = None,
    ) -> None:
        self.http_port = http_port
        self.startup_timeout = startup_timeout
        self.jvm_opts = list(jvm_opts)
        self.log_level = log_level
        self.keep_home = keep_home
        self.base_dir = base_dir
        self.url: str | None = None
        self.home: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self._stdout_f = None
        self._stderr_f = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> OpenSearchNode:
        with self._lock:
            if self.proc is not None:
                raise OpenSearchLauncherError("node already started")
            classpath = build_launcher()
            java = shutil.which("java")
            if java is None:
                raise OpenSearchLauncherError("java is not on PATH")
            self.home = Path(tempfile.mkdtemp(prefix="hfaudit-opensearch-", dir=self.base_dir))
            self._stdout_f = open(self.home / "stdout.log", "w+b")
            self._stderr_f = open(self.home / "node.log", "w+b")
            cmd = [
                java,
                *self.jvm_opts,
                f"-Djava.io.tmpdir={self.home}",
                f"-Dhfaudit.opensearch.log.level={self.log_level}",
                "-cp", classpath,
                MAIN_CLASS,
                str(self.home / "node"),
                str(self.http_port),
            ]
            t0 = time.monotonic()
            # stdin stays a pipe: if this Python process dies, the pipe closes
            # and the launcher stops the node by itself.
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=self._stdout_f,
                stderr=self._stderr_f,
                start_new_session=True,
            )
        try:
            self.url = self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, t0: float) -> str:
        deadline = t0 + self.startup_timeout
        url = None
        stdout_path = self.home / "stdout.log"
        while time.monotonic() < deadline:
            text = stdout_path.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith(READY_PREFIX):
                    url = line[len(READY_PREFIX):].strip()
                elif line.startswith(FAILED_PREFIX):
                    raise OpenSearchLauncherError(
                        f"OpenSearch failed to start: {line}\n{self.log_tail()}"
                    )
            if url:
                break
            code = self.proc.poll()
            if code is not None:
                raise OpenSearchLauncherError(
                    f"OpenSearch launcher exited with code {code} before it was ready\n"
                    + self.log_tail()
                )
            time.sleep(0.2)
        if not url:
            raise OpenSearchLauncherError(
                f"OpenSearch not ready within {self.startup_timeout:.0f}s\n" + self.log_tail()
            )
        # The launcher prints READY only after /_cluster/health answered;
        # check once more from this side (bounded by the same deadline).
        while not self._health_ok(url):
            if time.monotonic() >= deadline or self.proc.poll() is not None:
                raise OpenSearchLauncherError(
                    f"OpenSearch at {url} does not answer /_cluster/health\n" + self.log_tail()
                )
            time.sleep(0.2)
        return url

    @staticmethod
    def _health_ok(url: str) -> bool:
        try:
            r = requests.get(
                url + "/_cluster/health",
                params={"wait_for_status": "yellow", "timeout": "5s"},
                timeout=10,
            )
        except requests.RequestException:
            return False
        return r.status_code == 200 and r.json().get("status") in ("green", "yellow")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the node, SIGKILL after ``timeout`` s; return the exit code."""
        with self._lock:
            proc, self.proc = self.proc, None
            code = None
            if proc is not None:
                if proc.poll() is None:
                    try:
                        proc.send_signal(signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                    try:
                        code = proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        code = proc.wait(timeout=10)
                else:
                    code = proc.returncode
                if proc.stdin is not None:
                    try:
                        proc.stdin.close()
                    except OSError:
                        pass
            for f in (self._stdout_f, self._stderr_f):
                if f is not None:
                    f.close()
            self._stdout_f = self._stderr_f = None
            self.url = None
            if self.home is not None and not self.keep_home:
                shutil.rmtree(self.home, ignore_errors=True)
                self.home = None
            return code

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the node's log (stderr) for error messages."""
        if self.home is None:
            return ""
        try:
            text = (self.home / "node.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> OpenSearchNode:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"OpenSearchNode(url={self.url!r}, running={self.running})"


# --------------------------------------------------------------------------
# one node per Python process (pytest session)
# --------------------------------------------------------------------------

_session_node: OpenSearchNode | None = None
_session_lock = threading.Lock()


def start_session_node(**kwargs) -> OpenSearchNode:
    """Return the process-wide node, starting it on first call.

    Later calls return the same running node (``kwargs`` only apply to the
    first start).  It is stopped at interpreter exit, or by
    :func:`stop_session_node`.  Callers must not stop it themselves.
    """
    global _session_node
    with _session_lock:
        if _session_node is not None and _session_node.running:
            return _session_node
        node = OpenSearchNode(**kwargs)
        node.start()
        if _session_node is None:
            atexit.register(stop_session_node)
        _session_node = node
        return node


def stop_session_node() -> None:
    global _session_node
    with _session_lock:
        node, _session_node = _session_node, None
    if node is not None:
        node.stop()
