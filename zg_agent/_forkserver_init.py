"""Imported by the ``forkserver`` process of the process backend (:mod:`zg_agent.objective`), never elsewhere.

It makes the fork server, and the episode workers forked from it, ignore SIGTERM. ``timeout`` and cluster
schedulers send SIGTERM to every process of the job's process group; the trainer handles it (saves and stops
after the current iteration) and needs its workers and their fork server alive until then. The fork server
still exits when the trainer exits, and the trainer stops its workers itself.
"""

import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
