"""``bulkload backends``: the installed backends and the URL schemes they serve."""

from __future__ import annotations


def backends_command() -> None:
    """List the installed backends and the URL schemes they serve."""
    from bulkload.backends import available_backends
    from bulkload.cli.views.console import console as terminal
    from bulkload.options import add_installed_options, registry

    add_installed_options()  # to say which installed backends' options are refused

    console = terminal()
    for info in available_backends():
        schemes = ", ".join(f"{s}://" for s in info.schemes) or "-"
        origin = info.distribution or "?"
        status = f"  [red]failed to load: {info.error}[/]" if info.error else ""
        console.print(f"{info.name:<12} {schemes:<30} {info.target}  ({origin}){status}")
        if info.options:  # the backend's own options, as it declares them
            flags = ", ".join(
                option.flags[0] if option.flags else option.name for option in info.options
            )
            console.print(f"{'':<12} options: {flags}")
        if info.name in registry.REFUSED:
            console.print(f"{'':<12} [red]options refused: {registry.REFUSED[info.name]}[/]")
