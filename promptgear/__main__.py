from promptgear.cli import main

main()
