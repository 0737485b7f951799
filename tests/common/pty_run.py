"""Runs a command on a pseudo-terminal (as a person at a terminal would), optionally typing
a line after a delay; prints everything the command wrote to the terminal and exits with its
exit code. Used by tests of colours and prompts (tests/cli.rs).

    python3 pty_run.py [--type TEXT --after SECS] -- CMD ARGS...
"""
import os
import pty
import select
import sys
import time


def main():
    args = sys.argv[1:]
    text, after = None, 0.0
    while args and args[0] != "--":
        if args[0] == "--type":
            text, args = args[1], args[2:]
        elif args[0] == "--after":
            after, args = float(args[1]), args[2:]
        else:
            sys.exit("unknown option " + args[0])
    cmd = args[1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""
    start = time.time()
    typed = text is None
    deadline = start + 120
    while time.time() < deadline:
        if not typed and time.time() - start >= after:
            os.write(fd, text.encode() + b"\r")
            typed = True
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(out)
    sys.exit(os.waitstatus_to_exitcode(status))


main()
