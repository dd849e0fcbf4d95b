"""Homework 1 scripts: Part 3 trains an MLP on MNIST with MyTorch (see hw1/mnist.py)."""
