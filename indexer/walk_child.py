"""The child process of a walk (see walk_process): it walks and writes what it finds to its stdout as frames.

It imports only the walk (no database, no logging), so that it is ready soon after it is started. It
reads one request from its stdin (after it has said it is ready): the root, the batch size, and either
nothing (walk from the root) or where a walk stands (the folders still to list, the folders met), to
carry on a walk begun elsewhere. Every frame is a header (its kind, the length of its payload) and a
marshal payload of plain values:

- READY: empty; the child has started and read the gallerfs mounts; it waits for its request.
- BATCH: (files, problems): files as tuples in ScannedFile's field order, problems as
  (relpath, error, is_dir): one batch of walk.in_batches.
- END: (files, problems), how many of each the child sent: the walk is complete.
- ERROR: (exception type, message): the walk failed; nothing follows.

A parent that meets the end of the pipe without an END frame knows the walk did not finish.
"""

from __future__ import annotations

import marshal
import os
import struct
import sys
from typing import BinaryIO

from gallerfs.indexer.walk import Walk, in_batches
from gallerfs.mountguard import gallerfs_mounts

HEADER = struct.Struct("<cQ")  # kind, payload length
READY, BATCH, END, ERROR = b"R", b"B", b"E", b"X"


def write_frame(out: BinaryIO, kind: bytes, payload: bytes = b"") -> None:
    out.write(HEADER.pack(kind, len(payload)))
    out.write(payload)
    out.flush()


def main() -> None:
    """Serve one walk; the process ends with it (os._exit: nothing is left to clean up)."""
    frames = open(os.dup(1), "wb", buffering=1 << 16)
    os.dup2(2, 1)  # whatever prints by mistake goes to stderr, never into the frames
    try:
        mounts = gallerfs_mounts()
        write_frame(frames, READY)
        root, size, state = marshal.loads(sys.stdin.buffer.read())
        walk = Walk(root, tuple, mounts, state)
        sent_files = sent_problems = 0
        for files, problems in in_batches(walk.folders(), size):
            write_frame(frames, BATCH, marshal.dumps((files, [(p.relpath, p.error, p.is_dir) for p in problems])))
            sent_files += len(files)
            sent_problems += len(problems)
        write_frame(frames, END, marshal.dumps((sent_files, sent_problems)))
    except BrokenPipeError:  # the parent stopped reading: it wants no more
        os._exit(1)
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent, which raises it
        try:
            write_frame(frames, ERROR, marshal.dumps((type(exc).__name__, str(exc))))
        except OSError:
            pass
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    main()
