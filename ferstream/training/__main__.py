import sys

from ferstream.training.cli import train_main

sys.exit(train_main(sys.argv[1:]))
