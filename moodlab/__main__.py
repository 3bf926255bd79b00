from moodlab.cli.main import main

raise SystemExit(main())
