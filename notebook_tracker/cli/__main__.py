from notebook_tracker.cli import main

main()
