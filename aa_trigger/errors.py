"""The package's one exception type: a user-facing problem, stated in one line."""


class AATriggerError(Exception):
    """A problem with the user's input or environment (bad file, bad option, ...).

    The ``python -m aa_trigger.*`` entry points print its message as one line and exit
    with a non-zero status; library code raises it and never exits.
    """
