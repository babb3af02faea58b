"""SMTP throughput: postseal beside a private Postfix, both ending at the same smtp-sink kind.

Everything runs on 127.0.0.1, high ports, in one temporary directory, and is stopped at
the end (needs root for Postfix, and Debian's ``postfix`` package for Postfix,
``smtp-source`` and ``smtp-sink``):

- two ``smtp-sink`` processes, the final destinations (one for Postfix, one for postseal),
  each dumping every transaction into its own directory, where arrivals are counted;
- **Postfix** 3.7 from Debian as a relay: a private instance (``postfix -c DIR start``)
  with its own ``main.cf``/``master.cf``, queue and data directories in the temporary
  directory, ``relayhost = [127.0.0.1]:SINK``, ``mynetworks = 127.0.0.0/8``, no local
  delivery, no TLS, everything else Debian's defaults (so ``in_flow_delay = 1s``,
  chroot off);
- **postseal**: ``postseal init`` (rsa-2048), users alice, bob, carol, a ``postseal.toml``
  with ``[relay] smart_host`` = the postseal sink (``require_tls = false``) and a per-user
  policy ``[policy.user."alice@example.org"] sign = "always"``, ``encrypt = "required"``
  (the organisation's defaults stay for everyone else: nothing is signed or encrypted
  unless asked), ``[mail] smtp_processes = 2`` (serve and one SMTP worker sharing its
  sockets, one event loop per core of this 2-core machine, as Postfix runs several
  processes), and ``postseal serve --listen smtp=… --listen submission=…`` (SQLite
  store in the data directory, as ``make run`` uses).

Rows (N concurrent sessions, M messages of SIZE bytes of body each; a message's time
starts when the driver starts and stops (a) when the driver has its last ``250`` =
*accepted* and (b) when the last message has arrived = *delivered*):

- ``plain MX``: ``smtp-source -s N -m M -l SIZE`` (one connection per message, no TLS, no
  AUTH). postseal: its MX listener, recipient bob (local) → sealed into bob's INBOX;
  delivered = bob's INBOX row count in the store. Postfix: smtpd → queue → smtp client →
  sink; delivered = files in its sink's dump directory.
- ``plain relay``: a Python asyncio driver (aiosmtplib, this process) with N sessions,
  each one connection sending its share of the M messages. postseal: submission with
  STARTTLS and AUTH PLAIN as carol (one argon2 login per session), recipient at
  remote.example → queue → smart host → postseal's sink. Postfix: the same driver in
  plaintext without AUTH (the private Postfix has neither) → relay → its sink.
- ``sign+encrypt``: the same driver, postseal submission with STARTTLS + AUTH as alice,
  recipient bob: signed with alice's key and encrypted to bob's (and alice's) certificate
  (the profile postseal picks for him), sealed into bob's INBOX. Postfix cannot do this; its
  columns repeat the ``plain MX`` Postfix figures of the same size, as the target is
  "sign+encrypt >= 0.3 x Postfix plain".

ratio = postseal delivered msg/s / Postfix delivered msg/s. ``cpu ms`` is the CPU time the
postseal serve process and its SMTP worker used per message during the case (all their
threads, from ``/proc/PID/stat``): whether a case is bound by postseal's own work or by
waiting.

    python bench/smtp.py            # N = 10, M = 400 (MX, relay), 150 (sign+encrypt); ~2 minutes
    python bench/smtp.py --quick    # M = 100 / 40, under a minute
    python bench/smtp.py --profile  # py-spy record postseal during each postseal case
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiosmtplib

SMTP_SOURCE, SMTP_SINK, POSTFIX = (
    "/usr/sbin/smtp-source",
    "/usr/sbin/smtp-sink",
    "/usr/sbin/postfix",
)
SIZES = (10240, 51200)
PASSWORD = {u: f"bench password of {u}" for u in ("alice", "bob", "carol")}
SMTP_PROCESSES = 2  # serve and one SMTP worker: one loop per core (ADR 0024)
DELIVERY_TIMEOUT = 120.0
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("POSTSEAL_")}


# --- smtp-sink ------------------------------------------------------------------------------


@dataclass
class Sink:
    port: int
    dump: Path
    process: subprocess.Popen[bytes]

    def count(self) -> int:
        with os.scandir(self.dump) as entries:
            return sum(1 for _ in entries)


def start_sink(base: Path, name: str) -> Sink:
    dump = base / name
    dump.mkdir()
    shutil.chown(dump, "nobody")  # smtp-sink drops to -u nobody before it writes (INTEROP.md)
    port = free_port()
    process = subprocess.Popen(
        [SMTP_SINK, "-u", "nobody", "-d", f"{dump}/%M.", "127.0.0.1:" + str(port), "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_port(port, process)
    return Sink(port, dump, process)


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            command = process.args if isinstance(process.args, list) else [process.args]
            raise RuntimeError(f"{command[0]!s} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {STARTUP_TIMEOUT}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- Postfix --------------------------------------------------------------------------------

MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


@dataclass
class Postfix:
    config: Path
    port: int
    log: Path


def start_postfix(base: Path, sink: Sink) -> Postfix:
    """A private Postfix instance; ``postfix start`` logs to syslog, which does not exist
    here, so errors are read through ``script`` (Postfix also logs to a tty) and the
    instance logs to ``maillog_file`` through its own postlogd."""
    root = base / "postfix"
    config, queue, data = root / "conf", root / "queue", root / "data"
    for d in (config, queue, data):
        d.mkdir(parents=True)
    shutil.chown(data, "postfix")
    port = free_port()
    log = root / "maillog"
    (config / "main.cf").write_text(
        "\n".join(
            [
                "compatibility_level = 3.6",
                f"queue_directory = {queue}",
                f"data_directory = {data}",
                "mail_owner = postfix",
                "setgid_group = postdrop",
                "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4",
                "myhostname = relay.bench.test",
                "mydomain = bench.test",
                "mydestination =",
                "local_recipient_maps =",
                "local_transport = error:no local delivery",
                "alias_maps =",
                "alias_database =",
                f"relayhost = [127.0.0.1]:{sink.port}",
                "mynetworks = 127.0.0.0/8",
                "smtpd_relay_restrictions = permit_mynetworks, reject",
                "smtp_tls_security_level = none",
                "smtpd_tls_security_level = none",
                f"maillog_file = {log}",
                f"maillog_file_prefixes = {root}",
                "biff = no",
                "",
            ]
        )
    )
    (config / "master.cf").write_text(MASTER_CF.format(listen=f"127.0.0.1:{port}"))
    started = _postfix(config, "start")
    if started.returncode != 0:
        raise RuntimeError(f"postfix start failed: {started.stdout.strip()}")
    return Postfix(config, port, log)


def _postfix(config: Path, action: str) -> subprocess.CompletedProcess[str]:
    # `script` gives postfix a tty, so its errors reach us instead of a missing /dev/log.
    return subprocess.run(
        ["script", "-qec", f"{POSTFIX} -c {config} {action}", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stop_postfix(postfix: Postfix) -> None:
    _postfix(postfix.config, "stop")
    pid_file = postfix.config.parent / "queue" / "pid" / "master.pid"
    deadline = time.monotonic() + 15
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_file.exists():
        _postfix(postfix.config, "abort")


# --- postseal -------------------------------------------------------------------------------


@dataclass
class Postseal:
    data_dir: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes]
    errors: Path

    def inbox_count(self, address: str) -> int:
        db = sqlite3.connect(f"file:{self.data_dir / 'postseal.db'}?mode=ro", uri=True)
        try:
            row = db.execute(
                "SELECT count(*) FROM mailbox_messages m JOIN mailboxes b ON m.mailbox_id = b.id"
                " JOIN users u ON b.user_id = u.id WHERE u.address = ? AND b.name = 'INBOX'",
                (address,),
            ).fetchone()
        finally:
            db.close()
        return int(row[0])


def _cli(data_dir: Path, *args: str, stdin: str = "") -> None:
    subprocess.run(
        [sys.executable, "-m", "postseal", "--data-dir", str(data_dir), *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=_clean_env(),
        timeout=120,
        check=True,
    )


def start_postseal(base: Path, sink: Sink) -> Postseal:
    data_dir = base / "postseal"
    _cli(
        data_dir,
        *("init", "--org", "Bench Org", "--domain", "example.org", "--key-type", "rsa-2048"),
        *("--pki-url", "http://pki.example.org/pki"),
    )
    for user, password in PASSWORD.items():
        _cli(data_dir, "user", "add", f"{user}@example.org", "--password-stdin", stdin=password)
    (data_dir / "postseal.toml").write_text(
        f'[relay]\nsmart_host = "127.0.0.1:{sink.port}"\nrequire_tls = false\n\n'
        '[policy.user."alice@example.org"]\nsign = "always"\nencrypt = "required"\n'
        f"\n[mail]\nsmtp_processes = {SMTP_PROCESSES}\n"
    )
    ports = {"smtp": free_port(), "submission": free_port()}
    command = [sys.executable, "-m", "postseal", "--data-dir", str(data_dir), "serve"]
    for name, port in ports.items():
        command += ["--listen", f"{name}=127.0.0.1:{port}"]
    out, errors = base / "serve.out", base / "serve.err"
    with out.open("wb") as stdout, errors.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=_clean_env())
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while "postseal serving" not in out.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"postseal serve did not start: {errors.read_text()[-2000:]}")
        time.sleep(0.05)
    return Postseal(data_dir, ports, process, errors)


# --- drivers --------------------------------------------------------------------------------


def smtp_source(port: int, sessions: int, count: int, size: int, rcpt: str) -> None:
    done = subprocess.run(
        [
            *(SMTP_SOURCE, "-s", str(sessions), "-m", str(count), "-l", str(size)),
            *("-f", "sender@outside.example", "-t", rcpt, f"127.0.0.1:{port}"),
        ],
        capture_output=True,
        text=True,
        timeout=DELIVERY_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"smtp-source: {done.returncode} {done.stderr.strip()[-500:]}")


def message(sender: str, rcpt: str, size: int, n: int) -> bytes:
    """Headers like smtp-source's plus a Subject, and ``size`` bytes of body in 78-char lines."""
    head = (
        f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: bench {n}\r\n"
        f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench.{n}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    lines, rest = divmod(size, 80)
    body = (b"X" * 78 + b"\r\n") * lines + (b"Y" * (rest - 2) + b"\r\n" if rest > 2 else b"")
    return head.encode() + body


def python_source(
    port: int,
    *,
    sessions: int,
    count: int,
    size: int,
    sender: str,
    rcpt: str,
    login: tuple[str, str] | None = None,
) -> None:
    """N sessions over one queue of M messages; each session is one connection (STARTTLS +
    AUTH when ``login`` is given), sending until the queue is empty."""
    asyncio.run(_python_source(port, sessions, count, size, sender, rcpt, login))


async def _python_source(
    port: int,
    sessions: int,
    count: int,
    size: int,
    sender: str,
    rcpt: str,
    login: tuple[str, str] | None,
) -> None:
    remaining = iter(range(count))
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # a bench, not a TLS test

    async def session() -> None:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, timeout=DELIVERY_TIMEOUT
        )
        await client.connect()
        if login:
            await client.starttls(tls_context=tls)
            await client.login(*login)
        for n in remaining:
            errors, _ = await client.sendmail(sender, [rcpt], message(sender, rcpt, size, n))
            if errors:
                raise RuntimeError(f"refused: {errors}")
        await client.quit()

    await asyncio.gather(*(session() for _ in range(sessions)))


# --- measurement ----------------------------------------------------------------------------


@dataclass
class Rate:
    accepted: float
    delivered: float
    cpu_ms: float | None = None  # CPU of the measured server process per message


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of process ``pid`` and its live children (serve's
    SMTP workers), all their threads (Linux)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measure(
    drive: Callable[[], None], arrived: Callable[[], int], count: int, *, pid: int | None = None
) -> Rate:
    base = arrived()
    cpu = cpu_seconds(pid) if pid else 0.0
    started = time.perf_counter()
    drive()
    accepted = time.perf_counter() - started
    deadline = started + DELIVERY_TIMEOUT
    while (got := arrived() - base) < count:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {got} of {count} delivered after {DELIVERY_TIMEOUT}s")
        time.sleep(0.02)
    delivered = time.perf_counter() - started
    used = 1000 * (cpu_seconds(pid) - cpu) / count if pid else None
    return Rate(count / accepted, count / delivered, used)


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("--profile needs py-spy in the venv or on PATH (pip install py-spy)")
    return found


@contextlib.contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy record (raw collapsed stacks, idle frames dropped) around a postseal case."""
    if out is None:
        yield
        return
    spy = subprocess.Popen(
        [
            *(_py_spy(), "record", "--pid", str(pid)),
            *("--format", "raw", "--output", str(out), "--rate", "200", "--nonblocking"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # let it attach
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=30)


def _frame(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").split("site-packages/")[-1].split("/src/")[-1].split(":")[0]
    return f"{name} ({where})"


def summarise_profile(path: Path, top: int = 18) -> None:
    """Share of samples per postseal function (inclusive: with what it calls), and the
    functions the samples were in (self), of every thread."""
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        n = int(samples)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        for frame in set(frames):
            if frame.endswith("py)") and "(postseal/" in frame and "(postseal/cli/" not in frame:
                inclusive[frame] += n
        leaves[frames[-1]] += n
    print(f"  {path.stem}: {total} samples")
    for name, n in inclusive.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {name}")
    print("    self:")
    for name, n in leaves.most_common(8):
        print(f"    {100 * n / total:5.1f}%  {name}")


# --- the bench ------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    postseal: Rate
    postfix: Rate


def run(sessions: int, plain: int, secure: int, profile_dir: Path | None) -> list[Row]:
    for tool in (SMTP_SOURCE, SMTP_SINK, POSTFIX):
        if not Path(tool).exists():
            raise SystemExit(f"{tool} missing: apt-get install postfix ('No configuration')")
    if os.geteuid() != 0:
        raise SystemExit("Postfix needs root (its daemons drop to the postfix user)")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="postseal-bench-smtp-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # postfix and nobody traverse it
        started: list[Callable[[], None]] = []
        try:
            pf_sink = start_sink(base, "sink-postfix")
            started.append(lambda: _stop(pf_sink.process))
            ps_sink = start_sink(base, "sink-postseal")
            started.append(lambda: _stop(ps_sink.process))
            postfix = start_postfix(base, pf_sink)
            started.append(lambda: stop_postfix(postfix))
            postseal = start_postseal(base, ps_sink)
            started.append(lambda: _stop(postseal.process))
            bob = "bob@example.org"

            def spy(name: str) -> contextlib.AbstractContextManager[None]:
                out = profile_dir / f"{name}.txt" if profile_dir else None
                return profiled(postseal.process.pid, out)

            def inbox() -> int:
                return postseal.inbox_count(bob)

            carol = ("carol@example.org", PASSWORD["carol"])
            alice = ("alice@example.org", PASSWORD["alice"])
            remote = "dest@remote.example"
            for size in SIZES:
                kb = f"{size // 1024} KB"
                pf = measure(
                    partial(smtp_source, postfix.port, sessions, plain, size, "b@remote.example"),
                    pf_sink.count,
                    plain,
                )
                with spy(f"plain-mx-{size // 1024}KB"):
                    drive = partial(smtp_source, postseal.ports["smtp"], sessions, plain, size, bob)
                    ps = measure(drive, inbox, plain, pid=postseal.process.pid)
                rows.append(Row(f"plain MX {kb}", ps, pf))
                print(f"  {rows[-1].case}: done", file=sys.stderr)
            for size in SIZES:
                kb = f"{size // 1024} KB"
                source = partial(python_source, sessions=sessions, count=plain, size=size)
                drive = partial(source, postfix.port, sender="a@bench.test", rcpt=remote)
                pf = measure(drive, pf_sink.count, plain)
                with spy(f"plain-relay-{size // 1024}KB"):
                    drive = partial(
                        source,
                        postseal.ports["submission"],
                        sender=carol[0],
                        rcpt=remote,
                        login=carol,
                    )
                    ps = measure(drive, ps_sink.count, plain, pid=postseal.process.pid)
                rows.append(Row(f"plain relay {kb}", ps, pf))
                print(f"  {rows[-1].case}: done", file=sys.stderr)
            for size in SIZES:
                kb = f"{size // 1024} KB"
                with spy(f"sign-encrypt-{size // 1024}KB"):
                    drive = partial(
                        python_source, postseal.ports["submission"], sessions=sessions,
                        count=secure, size=size, sender=alice[0], rcpt=bob, login=alice,
                    )  # fmt: skip
                    ps = measure(drive, inbox, secure, pid=postseal.process.pid)
                plain_row = next(r for r in rows if r.case == f"plain MX {kb}")
                rows.append(Row(f"sign+encrypt {kb}", ps, plain_row.postfix))
                print(f"  {rows[-1].case}: done", file=sys.stderr)
            if "Traceback" in postseal.errors.read_text():
                print(postseal.errors.read_text()[-3000:], file=sys.stderr)
        finally:
            for stop in reversed(started):
                with contextlib.suppress(Exception):
                    stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent sessions (≤ 20)")
    parser.add_argument("--messages", type=int, help="M for the plain cases")
    parser.add_argument("--secure-messages", type=int, help="M for sign+encrypt")
    parser.add_argument("--profile", type=Path, nargs="?", const=Path("bench-smtp-profile"))
    args = parser.parse_args()
    plain = args.messages or (100 if args.quick else 400)
    secure = args.secure_messages or (40 if args.quick else 150)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(
        f"postseal bench/smtp.py — {args.sessions} sessions, {plain} messages per plain case, "
        f"{secure} sign+encrypt; Postfix {_postfix_version()}, postseal rsa-2048, SQLite"
    )
    started = time.monotonic()
    rows = run(args.sessions, plain, secure, args.profile)
    print(
        f"{'case':<20}{'postseal acc/s':>15}{'deliv/s':>9}{'cpu ms':>8}"
        f"{'Postfix acc/s':>15}{'deliv/s':>9}{'ratio':>8}"
    )
    for row in rows:
        cpu = f"{row.postseal.cpu_ms:>8.1f}" if row.postseal.cpu_ms is not None else f"{'-':>8}"
        print(
            f"{row.case:<20}{row.postseal.accepted:>15.1f}{row.postseal.delivered:>9.1f}{cpu}"
            f"{row.postfix.accepted:>15.1f}{row.postfix.delivered:>9.1f}"
            f"{row.postseal.delivered / row.postfix.delivered:>8.2f}"
        )
    print(f"(whole run {time.monotonic() - started:.0f} s)")
    if args.profile:
        print(f"py-spy profiles of postseal in {args.profile}/ (inclusive share of samples):")
        for path in sorted(args.profile.glob("*.txt")):
            summarise_profile(path)
    mx = next(r for r in rows if r.case == "plain MX 10 KB")
    print(f"plain 10 KB delivered ratio: {mx.postseal.delivered / mx.postfix.delivered:.2f}")


def _postfix_version() -> str:
    done = subprocess.run(
        ["/usr/sbin/postconf", "-dh", "mail_version"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "?"


if __name__ == "__main__":
    main()
