from milestone_sheets.cli import run

run()
