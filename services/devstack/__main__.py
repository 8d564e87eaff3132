from services.devstack.stack import main

raise SystemExit(main())
