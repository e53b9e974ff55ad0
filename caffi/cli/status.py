"""Exit statuses of the ``caffi`` command, the error it reports, and the one table from a
Channel Access status to an exit status."""
from ..constants import ECA

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Statuses with which caffi or libca refuses a request before sending it because of what was
# asked for (the request type, the value, the count): a usage error when the command line asked.
USAGE_STATUSES = frozenset({ECA.BADTYPE, ECA.BADSTR, ECA.BADCOUNT})


def exit_status(status, from_arguments=True):
    """The exit status for the ECA status a request got.

    ECA_NORMAL is success; a status of USAGE_STATUSES is a usage error if the command line shaped
    the request (*from_arguments*), and a Channel Access failure if the command asked for the
    channel's own type by itself; every other status is a Channel Access failure.
    """
    if status == ECA.NORMAL:
        return EXIT_OK
    if from_arguments and status in USAGE_STATUSES:
        return EXIT_USAGE
    return EXIT_FAILURE


class CliError(Exception):
    """A failure reported as one line on stderr with exit status *code*."""

    def __init__(self, message, code=EXIT_FAILURE):
        super().__init__(message)
        self.code = code
