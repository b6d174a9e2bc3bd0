"""The baseline of bench/sentiment.sh: NLTK's port of VADER over one document per line.

Usage: /usr/bin/python3 bench/sentiment_nltk.py LEXICON INPUT
LEXICON is data/vader/vader_lexicon.txt without its final newline (NLTK's loader reads every
line, so a trailing empty line fails); INPUT has one document per line. Needs Debian's
python3-nltk. Prints nothing: hyperfine times the whole process.
"""
import sys

from nltk.sentiment.vader import SentimentIntensityAnalyzer

analyzer = SentimentIntensityAnalyzer(lexicon_file="file:" + sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as lines:
    for line in lines:
        analyzer.polarity_scores(line.rstrip("\n"))
