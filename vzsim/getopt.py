"""GNU getopt_long as the tools use it: permuted arguments, `--opt=value`, unique prefixes."""

from __future__ import annotations

from vzsim.console import VzError

Options = list[tuple[str, str]]


def parse(
    program: str,
    args: list[str],
    long_options: dict[str, bool],
    short_options: dict[str, str] | None = None,
    error_code: int = 21,
) -> tuple[Options, list[str]]:
    """Split `args` into (name, value) pairs and positionals; names are long names.

    `long_options` maps a name to whether it takes an argument; `short_options` maps a
    one-letter option to its long name.
    """
    shorts = short_options or {}
    options: Options = []
    positionals: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            positionals.extend(args[index:])
            break
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            full = _match(program, name, long_options, arg, error_code)
            if long_options[full]:
                if not has_value:
                    if index >= len(args):
                        raise VzError(
                            error_code, f"{program}: option '--{full}' requires an argument"
                        )
                    value = args[index]
                    index += 1
            elif has_value:
                raise VzError(error_code, f"{program}: option '--{full}' doesn't allow an argument")
            options.append((full, value))
        elif arg.startswith("-") and len(arg) > 1:
            position = 1
            while position < len(arg):
                letter = arg[position]
                position += 1
                if letter not in shorts:
                    raise VzError(error_code, f"{program}: invalid option -- '{letter}'")
                full = shorts[letter]
                if not long_options[full]:
                    options.append((full, ""))
                    continue
                if position < len(arg):
                    options.append((full, arg[position:]))
                elif index < len(args):
                    options.append((full, args[index]))
                    index += 1
                else:
                    raise VzError(
                        error_code, f"{program}: option requires an argument -- '{letter}'"
                    )
                break
        else:
            positionals.append(arg)
    return options, positionals


def _match(program: str, name: str, long_options: dict[str, bool], arg: str, code: int) -> str:
    if name in long_options:
        return name
    candidates = [option for option in long_options if option.startswith(name)] if name else []
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        listed = " ".join(f"'--{c}'" for c in candidates)
        raise VzError(code, f"{program}: option '{arg}' is ambiguous; possibilities: {listed}")
    raise VzError(code, f"{program}: unrecognized option '{arg}'")
