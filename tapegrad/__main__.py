"""`python -m tapegrad`: walk through the autograd tutorial's examples and print what they
print (the same output as PyTorch 2.13, random values aside: tapegrad draws with numpy)."""
import tapegrad
from tapegrad.tutorial import EXAMPLES, ORDER, run_example


def main():
    for name in ORDER:
        print("=" * 8, name.replace("_", " "))
        print(EXAMPLES[name].strip())
        print("-" * 8, "output")
        print(run_example(EXAMPLES[name], tapegrad), end="")
        print()


if __name__ == "__main__":
    main()
