from gallerfs.cli import main

raise SystemExit(main())
