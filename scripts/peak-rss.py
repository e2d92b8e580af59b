# peak-rss.py PROGRAM [ARG...]: runs PROGRAM as a forked child (stdin, stdout
# and stderr passed through) and writes its peak resident set size in KiB
# (wait4's ru_maxrss) to file descriptor 3, then exits with its status. Used
# by scripts/bench.mjs and test/e2e/package.test.ts. The figure includes what
# the forked python held before exec (about 5 MB): a floor, not an overhead.
import os
import sys

pid = os.fork()
if pid == 0:
    os.close(3)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
os.write(3, str(usage.ru_maxrss).encode())
sys.exit(os.waitstatus_to_exitcode(status))
