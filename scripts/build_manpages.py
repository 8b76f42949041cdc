#!/usr/bin/env python3
"""Build openvzd(8), ovzsh(1), openvzd.toml(5) and ovzsh's bash completion.

Everything comes from the code itself, so the pages never drift: the argparse
definitions of openvzd, `openvzd passwd` and ovzsh (every sub-command, so a
command added to ovzsh appears by itself) and the configuration's documented
defaults (`openvzd --print-default-config`).

    python scripts/build_manpages.py OUTDIR

writes OUTDIR/man8/openvzd.8, OUTDIR/man1/ovzsh.1, OUTDIR/man5/openvzd.toml.5 and
OUTDIR/bash-completion/ovzsh. `make man` and `make test` run it; `make install`
installs what it wrote.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from openvz.cli.main import build_parser as ovzsh_parser
from openvzd import __version__
from openvzd.config import DEFAULTS_DOC
from openvzd.main import _parser as openvzd_parser
from openvzd.remote.passwords import _passwd_parser as passwd_parser

DATE = "2026"
# What may appear in the completion script unquoted: command words and option names.
SAFE_WORD = re.compile(r"^-{0,2}[A-Za-z0-9][A-Za-z0-9_-]*$")


def roff(text: str) -> str:
    """text as roff: backslashes and hyphens escaped, no line starting a request."""
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in escaped.splitlines() or [""]:
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def header(name: str, section: int, title: str) -> list[str]:
    return [
        f'.TH {name.upper()} {section} "{DATE}" "openvzd {__version__}" "{title}"',
        ".SH NAME",
        f"{roff(name)} \\- {roff(description_line(name))}",
    ]


def description_line(name: str) -> str:
    return {
        "openvzd": "the OpenVZ container driver service",
        "ovzsh": "the command line of openvzd, in virsh's words",
        "openvzd.toml": "the configuration file of openvzd",
    }[name]


def invocation(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    # argparse's own rendering of "-c URI, --connect URI", as --help shows it.
    formatter = parser._get_formatter()
    return formatter._format_action_invocation(action)


def help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    formatter = parser._get_formatter()
    return formatter._expand_help(action)


def documented_actions(parser: argparse.ArgumentParser) -> Iterable[argparse.Action]:
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        yield action


def option_list(parser: argparse.ArgumentParser, with_help: bool = True) -> list[str]:
    lines: list[str] = []
    for action in documented_actions(parser):
        if not with_help and isinstance(action, argparse._HelpAction):
            continue
        lines += [".TP", f".B {roff(invocation(parser, action))}", roff(help_of(parser, action))]
    return lines


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def synopsis(parser: argparse.ArgumentParser) -> str:
    usage = parser.format_usage().removeprefix("usage: ").strip()
    return " ".join(usage.split())


def openvzd_page() -> str:
    parser = openvzd_parser()
    passwd = passwd_parser()
    lines = header("openvzd", 8, "System Administration")
    lines += [
        ".SH SYNOPSIS",
        f".B {roff(synopsis(parser))}",
        ".br",
        f".B {roff(synopsis(passwd))}",
        ".SH DESCRIPTION",
        roff(parser.description or ""),
        ".PP",
        roff(
            "One root-run openvzd owns every change to the OpenVZ containers of a host: it "
            "runs vzctl through a per-container job queue that survives crashes, keeps a live "
            "model of the host for fast reads, publishes lifecycle events, and serves all of "
            "it over gRPC on a read-write and a read-only unix socket, and optionally over "
            "TLS, TCP with SASL, and SSH."
        ),
        ".SH COMMANDS",
        ".TP",
        ".B serve",
        roff(
            "Serve the host (the default). Under systemd it tells the manager when it is "
            "ready, reloading and stopping (sd_notify), and keeps the watchdog fed."
        ),
        ".TP",
        ".B check",
        roff(
            "Check the host like virt-host-validate and print what is missing; "
            "the exit status is non-zero when a check fails."
        ),
        ".TP",
        ".B passwd",
        roff(passwd.description or ""),
        ".SH OPTIONS",
        *option_list(parser),
        ".SS openvzd passwd",
        *option_list(passwd),
        ".SH SIGNALS",
        ".TP",
        ".B SIGHUP",
        roff(
            "Re-read the configuration file and the TLS certificates; what cannot change "
            "while the listeners are open is logged and waits for a restart."
        ),
        ".TP",
        ".B SIGTERM, SIGINT",
        roff(
            "Stop: no new calls; running tool runs get [jobs] stop_grace seconds. "
            "Containers are never stopped with the daemon."
        ),
        ".SH FILES",
        ".TP",
        ".I /etc/openvzd/openvzd.toml",
        roff(
            "The configuration (openvzd.toml(5)); openvzd --print-default-config prints "
            "every key with its default."
        ),
        ".TP",
        ".I /run/openvzd/openvzd.sock, /run/openvzd/openvzd\\-ro.sock",
        roff("The read-write (root's, mode 0600) and read-only sockets."),
        ".TP",
        ".I /var/lib/openvzd",
        roff(
            "The job journal and the daemon's state; see the upgrade and backup notes "
            "in the documentation."
        ),
        ".SH SEE ALSO",
        ".BR ovzsh (1),",
        ".BR openvzd.toml (5),",
        ".BR vzctl (8),",
        ".BR systemctl (1)",
    ]
    return "\n".join(lines) + "\n"


def ovzsh_page() -> str:
    parser = ovzsh_parser()
    lines = header("ovzsh", 1, "User Commands")
    lines += [
        ".SH SYNOPSIS",
        ".B ovzsh",
        roff("[-c URI] [-r] [-q] COMMAND [ARGUMENTS...]"),
        ".br",
        ".B ovzsh",
        roff("[-c URI] [-r]   (an interactive shell)"),
        ".SH DESCRIPTION",
        roff(
            "ovzsh drives openvzd the way virsh drives libvirt: the same command words, "
            "options and output. Without a command it reads commands interactively. "
            "`ovzsh help COMMAND` shows one command's usage."
        ),
        ".SH OPTIONS",
        *option_list(parser),
        ".SH COMMANDS",
    ]
    for name, command in sorted(subcommands(parser).items()):
        lines += [".SS " + roff(name), roff(synopsis(command))]
        if command.description:
            lines += [".PP", roff(command.description)]
        lines += option_list(command, with_help=False)
    lines += [
        ".SH ENVIRONMENT",
        ".TP",
        ".B OPENVZ_DEFAULT_URI",
        roff(
            "The URI used without -c, such as "
            "openvz+unix:///system?socket=/run/openvzd/openvzd.sock; "
            "the default is the local read-write socket."
        ),
        ".SH EXIT STATUS",
        roff("0 on success, 1 on any error (with `error: ...` on standard error), as virsh."),
        ".SH SEE ALSO",
        ".BR openvzd (8),",
        ".BR openvzd.toml (5),",
        ".BR virsh (1)",
    ]
    return "\n".join(lines) + "\n"


def config_page() -> str:
    lines = header("openvzd.toml", 5, "File Formats")
    lines += [
        ".SH SYNOPSIS",
        ".I /etc/openvzd/openvzd.toml",
        ".SH DESCRIPTION",
        roff(
            "The configuration of openvzd(8), in TOML. Every key is optional; a missing file "
            "means every default. Unknown sections and keys are errors that name the key and "
            "what is known. What follows is every section and key with its default, as "
            "`openvzd --print-default-config` prints it."
        ),
    ]
    comment: list[str] = []
    for raw in DEFAULTS_DOC.splitlines()[1:]:
        line = raw.strip()
        if line.startswith("#"):
            comment.append(line.lstrip("#").strip())
        elif line.startswith("["):
            if comment:
                lines += [".PP", roff(" ".join(comment))]
                comment = []
            lines += [".SH " + roff(line.upper().strip("[]") + " SECTION"), f".B {roff(line)}"]
        elif "=" in line:
            key, _, default = line.partition("=")
            lines += [".TP", f"\\fB{roff(key.strip())}\\fR = {roff(default.strip())}"]
            lines.append(roff(" ".join(comment)) if comment else "")
            comment = []
        elif not line and comment:
            lines += [".PP", roff(" ".join(comment))]
            comment = []
    if comment:
        lines += [".PP", roff(" ".join(comment))]
    lines += [
        ".SH SEE ALSO",
        ".BR openvzd (8),",
        ".BR ovzsh (1)",
    ]
    return "\n".join(line for line in lines if line != "") + "\n"


def option_words(parser: argparse.ArgumentParser) -> list[str]:
    words = [
        option
        for action in documented_actions(parser)
        for option in action.option_strings
        if option.startswith("--") or len(option) == 2
    ]
    for word in words:
        if not SAFE_WORD.match(word):
            raise SystemExit(f"build_manpages: option {word!r} is not a plain word")
    return sorted(words)


def first_is_domain(command: argparse.ArgumentParser) -> bool:
    positionals = [action for action in command._actions if not action.option_strings]
    return bool(positionals) and positionals[0].dest == "domain"


def ovzsh_completion() -> str:
    parser = ovzsh_parser()
    commands = subcommands(parser)
    for name in commands:
        if not SAFE_WORD.match(name):
            raise SystemExit(f"build_manpages: command {name!r} is not a plain word")
    table = "\n".join(
        f'    [{name}]="{" ".join(option_words(command))}"'
        for name, command in sorted(commands.items())
    )
    # Commands whose first argument is a domain: it completes from the daemon's list.
    takes_domain = " ".join(
        f"[{name}]=1" for name, command in sorted(commands.items()) if first_is_domain(command)
    )
    valued = " ".join(
        option
        for action in documented_actions(parser)
        if action.nargs != 0
        for option in action.option_strings
    )
    return f"""\
# bash completion for ovzsh; generated by scripts/build_manpages.py from ovzsh's
# own argument parser (openvzd {__version__}). Do not edit.

_ovzsh_global="{" ".join(option_words(parser))}"
_ovzsh_commands="help {" ".join(sorted(commands))}"
declare -A _ovzsh_options=(
{table}
)
declare -A _ovzsh_takes_domain=({takes_domain})

_ovzsh() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} command="" i
    local -a connection=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            -c|--connect) connection+=(-c "${{COMP_WORDS[i + 1]}}"); ((i++)) ;;
            {valued.replace(" ", "|") or "''"}) ((i++)) ;;
            -r|--readonly) connection+=(-r) ;;
            -*) ;;
            *) command=${{COMP_WORDS[i]}}; break ;;
        esac
    done
    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$_ovzsh_global" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$_ovzsh_commands" -- "$cur")
        fi
    elif [[ $command == help ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$_ovzsh_commands" -- "$cur")
    elif [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${{_ovzsh_options[$command]}}" -- "$cur")
    elif [[ -n ${{_ovzsh_takes_domain[$command]}} ]] && ((COMP_CWORD == i + 1)); then
        local names
        names=$(ovzsh "${{connection[@]}}" list --all --name 2>/dev/null)
        mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
    else
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
}}
complete -F _ovzsh ovzsh
"""


def build(out: Path) -> list[Path]:
    outputs = {
        out / "man8" / "openvzd.8": openvzd_page(),
        out / "man1" / "ovzsh.1": ovzsh_page(),
        out / "man5" / "openvzd.toml.5": config_page(),
        out / "bash-completion" / "ovzsh": ovzsh_completion(),
    }
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(outputs)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: build_manpages.py OUTDIR", file=sys.stderr)
        return 2
    for path in build(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
