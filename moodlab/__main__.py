from moodlab.cli.main import run

run()
