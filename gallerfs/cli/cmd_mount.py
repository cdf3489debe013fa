"""gallerfs mount / umount: the library as a filesystem."""

from __future__ import annotations

import argparse

from gallerfs.cli.context import Context
from gallerfs.errors import GallerfsError


# The tree, as 'mount --help' shows it; man/gallerfs-mount.5 is the whole story (tests/test_docs.py checks both).
MOUNT_TREE = """\
the tree ('man gallerfs-mount' for the details):
  sources/NAME/...      each source folder as indexed, also while it is offline
  by-date/YYYY/MM/DD/   by date taken, else by modification time
  by-album/ALBUM/       mkdir makes an album; cp or ln of a mount file adds it;
                        rm takes it out of the album
  favourites/           the same for favourites
  search/QUERY/         a plain-English query, run when listed or made (mkdir)
  similar/PHOTO/        the photos most like one (its id, or its unique name)
  by-place/COUNTRY/REGION/CITY/  geotagged files by place (gallerfs places)
  by-tag/TAG/           photos by what is in them (gallerfs models install tags)
  duplicates/TAG NAME/  one folder per duplicate set (' near' ends near sets);
                        rm trashes a copy, never the last one nor the only
                        full-resolution one of a near set
  people/NAME/          every photo a person is in ('person N' until named)
  journal/              the journal folder, read-write
  .gallerfs/            status (sources, jobs, stats.json) and the metadata of
                        any file (files/ID.json, inodes/INODE.json)
Opening an offline original fails with ENOMEDIUM; writes wait up to 5 s for
the library's lock, then fail with EBUSY."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mount", help="show the library as a filesystem at MOUNTPOINT",
        description="Mount the library at MOUNTPOINT. Daemonises once the mount is up unless -f is\n"
        "given; 'gallerfs umount' ends it. 'gallerfs unit' mounts it at every login.",
        epilog=MOUNT_TREE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("mountpoint", metavar="MOUNTPOINT")
    p.add_argument("-f", "--foreground", action="store_true", help="stay in the foreground (logs to stderr)")
    p.add_argument("--allow-other", action="store_true",
                   help="let other users see the mount (needs user_allow_other in /etc/fuse.conf)")
    p.add_argument("--xattrs", action="store_true",
                   help="serve metadata as user.gallerfs.* extended attributes (makes 'ls -l' slower; "
                   "the same data is always in .gallerfs/files/ID.json)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="clear a stale mount left by a crashed gallerfs first")
    p.add_argument("--debug-fuse", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run_mount)

    p = sub.add_parser("umount", help="unmount a gallerfs mount",
                       description="Unmount a gallerfs mount and wait for its process to finish.")  # fmt: skip
    p.add_argument("mountpoint", metavar="MOUNTPOINT")
    p.add_argument("--force", action="store_true",
                   help="lazy unmount when busy, and clear stale mounts ('Transport endpoint is not connected')")
    p.set_defaults(func=run_umount)


def run_mount(ctx: Context) -> int:
    from gallerfs.fs.mount import MountOptions, mount

    a = ctx.args
    if not ctx.paths.db.exists():
        raise GallerfsError(f"no library at {ctx.paths.root} (run 'gallerfs add FOLDER' first)")
    from gallerfs.db import sources as sources_db
    from gallerfs.mountguard import check_mountpoint

    db = ctx.open_db()  # create/migrate the schema before readers open it
    try:
        check_mountpoint(a.mountpoint, [(s.name, s.path) for s in sources_db.list_sources(db)])
    finally:
        db.close()
    opts = MountOptions(
        foreground=a.foreground, allow_other=a.allow_other, xattrs=a.xattrs, force=a.force, debug=a.debug_fuse,
    )  # fmt: skip
    return mount(ctx.paths, ctx.settings, a.mountpoint, opts)


def run_umount(ctx: Context) -> int:
    from gallerfs.fs.mount import umount

    umount(ctx.paths, ctx.args.mountpoint, ctx.args.force)
    return 0
