from moodlab.cli import main

raise SystemExit(main())
