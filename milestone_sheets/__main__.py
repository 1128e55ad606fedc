from milestone_sheets.cli import main

main()
