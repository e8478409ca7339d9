from churnwhy.cli import main

main()
