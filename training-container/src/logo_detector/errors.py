"""The base of every error an operator can fix; its message names what is wrong and how to fix it."""


class OperatorFixableError(Exception):
    """Bad input or configuration (not a bug): the failure reason is the message alone, with no traceback type."""
