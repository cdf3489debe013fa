"""The library as a FUSE filesystem (pyfuse3 + trio).

Layers, each testable on its own:

- ``nodes``: the virtual tree as pure code. A ``DirNode`` lists its children
  (``list(ctx)``) from a read-only ``Database`` on a worker thread; files are
  ``LibraryFile`` (an original), ``TextFile`` (generated status) nodes.
- ``library_dirs`` / ``status`` / ``journal``: one class per kind of directory.
- ``toplevel``: THE registry of top-level directories (``TOP_LEVEL``).
- ``provider``: the interface of a provider of inodes; two implement it:
  ``virtual`` (the tree above, with ``lister`` for its cached listings,
  ``originals`` for files of the sources, ``copies`` for copies dropped into
  albums) and ``passthrough`` (``journal/``, read-write onto the real folder).
- ``operations``: the pyfuse3 ``Operations`` class, a thin dispatcher: it
  picks the provider of each inode, counts the kernel's references and holds
  the handle numbers; ``refresh`` follows the library's changes.
- ``mount``: the composition root (``build_parts``) and the mount lifecycle
  (daemonising, signals, stale mounts, unmount).

Adding a top-level directory (``search/``, ``duplicates/``)
------------------------------------------------------------
Write one ``DirNode`` subclass (see ``nodes.DirNode`` for the full interface)
and add ``(b"search", SearchDir)`` to ``toplevel.TOP_LEVEL``. The class

- has a stable ``key`` tuple (its identity: the same key is the same inode
  while the kernel holds it, see ``inodes``), e.g. ``("top", b"search")``;
- implements ``list(ctx) -> list[Entry]``; ``Entry(name, node)`` where node is
  a child ``DirNode`` (e.g. one per query / duplicate set, with its own key) or
  ``LibraryFile(row)`` for a library file (rows from ``gallerfs.db``; use
  ``nodes.unique_names`` for deterministic ``IMG (2).jpg`` suffixes);
- sets ``dynamic_lookup = True`` and implements ``lookup(ctx, name)`` if names
  that are not listed must resolve (``search/<any query>``); a lookup should
  be cheap (``stat`` and probes by file managers call it): expensive work
  belongs in ``list``, and ``opened(ctx)`` runs after each ``opendir``;
- may implement ``remove_file(ctx, file_id, name)`` (``rm``), ``add_file``
  (``cp``/``ln`` into it), ``mkdir``/``rmdir``/``rename_child``; the defaults
  raise ``OSError(EROFS)``. Raise ``OSError(errno.X)`` for any other refusal
  (e.g. ``EPERM`` for the last copy of a duplicate set). ``ctx.writer()``
  gives the library's writer connection inside write methods.

Everything runs on worker threads with ``ctx.db`` a per-thread reader; the
``Operations`` class caches each listing until ``library_state.generation``
changes, then re-lists the cached directories and invalidates the kernel's
entries that changed. Writers must bump the generation (all of
``gallerfs.db.albums`` does) so listings follow.
"""
