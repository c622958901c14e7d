"""cli (floor 6): the `thaija` command, one thin typer sub-app per stage: parse, call the library, print.

Library errors (ThaijaError) become one line `thaija: error: ...` and exit code 2 (cli/main.py).
"""
