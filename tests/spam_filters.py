"""Real spam filters for the tests, run offline on loopback: SpamAssassin (Debian's
`spamassassin`: its Perl library, one process for many messages, local tests only) and
rspamd (Debian's `rspamd`: a normal worker on a free port with a configuration of its own
in a temporary folder, network checks off, `rspamc` for many files at once). `.ci/run`
installs both."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

# One Perl process scores every file: a `spamassassin` process per message would spend
# most of its time compiling the rules again.
SPAMASSASSIN = r"""
use strict; use warnings;
use Mail::SpamAssassin;
my $sa = Mail::SpamAssassin->new({
    local_tests_only => 1, dont_copy_prefs => 1, userprefs_filename => '/dev/null',
    home_dir_for_helpers => $ENV{SA_HOME},
});
$sa->compile_now(0);
for my $f (@ARGV) {
    open(my $fh, '<', $f) or die "$f: $!"; local $/; my $raw = <$fh>; close $fh;
    my $msg = $sa->parse($raw);
    my $st = $sa->check($msg);
    printf "%s\t%.3f\t%s\n", $f, $st->get_score(), $st->get_names_of_tests_hit_with_scores();
    $st->finish; $msg->finish;
}
"""

RSPAMD_CONFIG = """\
.include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}}
logging {{
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "warning";
}}
worker "normal" {{
    bind_socket = "127.0.0.1:{port}";
    .include "$CONFDIR/worker-normal.inc"
    count = 1;
}}
"""
# No network: lookups go to a closed port and fail at once; the modules that only ask the
# network (or redis) are off. What is left are the content, MIME and header rules.
RSPAMD_OPTIONS = """\
dns {
    nameserver = ["127.0.0.1:9"];
    timeout = 0.2s;
    retransmits = 1;
}
"""
RSPAMD_OFF = (
    "rbl", "dkim", "spf", "dmarc", "arc", "fuzzy_check", "asn", "phishing", "dcc",
    "url_redirector", "neural", "ratelimit", "greylist", "replies", "hfilter",
)  # fmt: skip


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed")
    return path


def spamassassin_available() -> bool:
    if shutil.which("perl") is None or shutil.which("spamassassin") is None:
        return False
    return (
        subprocess.run(
            [_tool("perl"), "-MMail::SpamAssassin", "-e1"], capture_output=True
        ).returncode
        == 0
    )


def rspamd_available() -> bool:
    return shutil.which("rspamd") is not None and shutil.which("rspamc") is not None


def spamassassin_scores(files: list[Path]) -> dict[str, tuple[float, dict[str, float]]]:
    """Each file's score and the tests it hit, with their scores: one Perl process per
    core, each scoring its share of the files."""
    workers = max(1, min(len(files), os.cpu_count() or 1, 4))
    with tempfile.TemporaryDirectory() as home:
        running = [
            subprocess.Popen(
                [_tool("perl"), "-e", SPAMASSASSIN, *map(str, files[n::workers])],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "SA_HOME": f"{home}/{n}"},
            )
            for n in range(workers)
        ]
        outputs = [process.communicate(timeout=600) for process in running]
    scores = {}
    for process, (out, err) in zip(running, outputs, strict=True):
        if process.returncode:
            raise RuntimeError(f"SpamAssassin failed: {err[-2000:]}")
        for line in out.splitlines():
            name, score, hits = line.split("\t")
            tests = {}
            for hit in filter(None, hits.split(",")):
                test, _, value = hit.partition("=")
                tests[test] = float(value or 0)
            scores[Path(name).name] = (float(score), tests)
    return scores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rspamd:
    """A running rspamd, stopped on exit."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="rspamd-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Rspamd:
        local = self.folder / "local.d"
        local.mkdir()
        (self.folder / "rspamd.conf").write_text(RSPAMD_CONFIG.format(port=self.port))
        (local / "options.inc").write_text(RSPAMD_OPTIONS)
        for module in RSPAMD_OFF:
            (local / f"{module}.conf").write_text("enabled = false;\n")
        command = [_tool("rspamd"), "-f", "-c", str(self.folder / "rspamd.conf")]
        if os.geteuid() == 0:  # rspamd refuses to run its workers as root
            user = pwd.getpwnam("_rspamd")
            for path in (self.folder, *self.folder.rglob("*")):
                os.chown(path, user.pw_uid, user.pw_gid)
            command += ["-u", "_rspamd", "-g", "_rspamd"]
        for var in ("DBDIR", "RUNDIR", "LOGDIR", "LOCAL_CONFDIR"):
            command.append(f"--var={var}={self.folder}")
        command.append("--var=CONFDIR=/etc/rspamd")
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120  # it compiles its regular expressions first
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rspamd exited: {self.log()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)  # waiting for a server to listen, not for time to pass
        raise RuntimeError(f"rspamd did not listen in time: {self.log()[-2000:]}")

    def log(self) -> str:
        path = self.folder / "rspamd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def scan(self, files: list[Path]) -> dict[str, dict[str, float]]:
        """Each file's symbols and their scores (one rspamc for all of them)."""
        done = subprocess.run(
            [_tool("rspamc"), "-h", f"127.0.0.1:{self.port}", "-j", *map(str, files)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        results = {}
        decoder = json.JSONDecoder()
        text, at = done.stdout, 0
        while True:
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text):
                break
            reply, at = decoder.raw_decode(text, at)
            symbols = {name: s["score"] for name, s in reply.get("symbols", {}).items()}
            results[Path(reply["filename"]).name] = symbols
        return results

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
