"""Command-line mistakes: exit status 2 and exactly one line on stderr that names the
mistake and where to look (``postseal.cli.main``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from postseal.cli.main import build_parser, main


@pytest.fixture(autouse=True)
def _no_postseal_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("POSTSEAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # the default data dir ./var must stay untouched


def _usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("postseal: error: ")
    assert "--help" in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param([], "COMMAND", id="no-command"),
        pytest.param(["--json"], "COMMAND", id="only-options"),
        pytest.param(["frobnicate"], "invalid choice: 'frobnicate'", id="unknown-command"),
        pytest.param(["user"], "ACTION", id="missing-action"),
        pytest.param(
            ["user", "rename", "a@example.org"], "invalid choice: 'rename'", id="unknown-action"
        ),
        pytest.param(["user", "add"], "email", id="missing-email"),
        pytest.param(["user", "list", "--bogus"], "--bogus", id="unknown-option"),
        pytest.param(
            ["user", "passwd", "a@example.org"], "--password-stdin", id="passwd-needs-stdin"
        ),
        pytest.param(["init", "--org", "O"], "--domain", id="init-missing-domain"),
        pytest.param(
            ["init", "--org", "O", "--domain", "example.org", "--key-type", "dsa-1024"],
            "dsa-1024",
            id="bad-key-type",
        ),
        pytest.param(["cert", "revoke", "0A1B"], "--reason", id="revoke-missing-reason"),
        pytest.param(
            ["cert", "revoke", "0A1B", "--reason", "cACompromise"],
            "cACompromise",
            id="reason-not-for-subscribers",
        ),
        pytest.param(["cert", "export", "a@example.org"], "--format", id="export-missing-format"),
        pytest.param(
            ["cert", "export", "a@example.org", "--format", "pfx"], "pfx", id="export-bad-format"
        ),
        pytest.param(
            ["template", "add", "T", "--key-type", "ecdsa-p256"], "--eku", id="template-missing-eku"
        ),
        pytest.param(
            [
                "template",
                "add",
                "T",
                "--eku",
                "email",
                "--key-type",
                "ecdsa-p256",
                "--validity-days",
                "ten",
            ],
            "ten",
            id="not-a-number",
        ),
        pytest.param(["template", "supersede", "User"], "--by", id="supersede-missing-by"),
        pytest.param(
            ["directory", "publish", "a@example.org", "c.pem", "--attribute", "mail"],
            "mail",
            id="bad-attribute",
        ),
        pytest.param(["crl", "export", "--ca", "tls"], "tls", id="bad-crl-ca"),
        pytest.param(["trust", "add-root"], "file", id="missing-file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], fragment: str
) -> None:
    line = _usage_error(capsys, argv)
    assert fragment in line
    assert not (tmp_path / "var").exists()


def test_the_help_of_a_subcommand_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(capsys, ["cert", "revoke"])
    assert "`postseal cert revoke --help`" in line


def test_global_options_may_follow_the_command(tmp_path: Path) -> None:
    """``--json`` and ``--data-dir`` are accepted before or after the command."""
    parser = build_parser()
    after = parser.parse_args(["user", "list", "--json", "--data-dir", str(tmp_path)])
    before = parser.parse_args(["--json", "--data-dir", str(tmp_path), "user", "list"])
    assert after.json and before.json
    assert after.data_dir == before.data_dir == tmp_path
    assert parser.parse_args(["user", "list"]).json is False


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in (
        "init",
        "serve",
        "user",
        "cert",
        "template",
        "ca",
        "crl",
        "trust",
        "directory",
        "enroll",
    ):
        assert command in out


@pytest.mark.parametrize(
    ("listen", "fragment"),
    [
        ("ldap=127.0.0.1:389", "unknown listener 'ldap'"),
        ("http=localhost", "NAME=HOST:PORT"),
        ("http=127.0.0.1:99999", "99999"),
    ],
)
def test_bad_listen_values_are_one_line_config_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listen: str, fragment: str
) -> None:
    status = main(["--data-dir", str(tmp_path / "data"), "serve", "--listen", listen])
    assert status == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("postseal: error: option --listen")
    assert fragment in lines[0]
    assert not (tmp_path / "data").exists()


def test_every_command_has_help_text() -> None:
    parser = build_parser()
    groups = next(a for a in parser._actions if a.dest == "command")
    helps = {action.dest: action.help for action in groups._choices_actions}  # type: ignore[attr-defined]
    assert helps
    assert all(helps.values()), helps
