from stclr.cli import main

raise SystemExit(main())
