"""``python -m dcmexport`` runs the command-line interface."""

from dcmexport.cli import main

if __name__ == "__main__":
    main()
