"""``python -m tiexin``: the same command as the ``tiexin`` script."""

from tiexin.cli import app

app(prog_name="tiexin")
