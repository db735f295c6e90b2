"""Imported by the ``forkserver`` process of the process backend (:mod:`zg_agent.rollout.process`), never elsewhere.

It makes the fork server, and the episode workers forked from it from their first instruction on, ignore
SIGINT and SIGTERM. A terminal's Ctrl-C, and the SIGTERM that ``timeout`` and cluster schedulers send, reach
every process of the process group; the trainer handles them (saves and stops after the current iteration)
and needs its workers and their fork server alive until then. The fork server still exits when the trainer
exits, and the trainer stops its workers itself.
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
