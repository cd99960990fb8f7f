from livecomments.cli import main

raise SystemExit(main())
