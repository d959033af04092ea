"""Runs once per call: the request body from stdin to handler.handle, its answer to stdout."""
import sys

from function import handler


def main():
    request = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    response = handler.handle(request)
    if response is not None:
        sys.stdout.write(response if isinstance(response, str) else str(response))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
