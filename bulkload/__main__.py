from bulkload.cli import main

main()
