"""Column names of the data sets scikit-learn ships, as its ``load_*`` functions give them.

The bundled files hold only numbers and class names; the feature names live in
scikit-learn's code. They are copied here so that fetching iris does not cost the
second or so that importing scikit-learn takes. ``tests/test_datasets.py`` checks them
against scikit-learn's own loaders.
"""

FEATURE_NAMES = {
    "iris": [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ],
    "wine": [
        "alcohol",
        "malic_acid",
        "ash",
        "alcalinity_of_ash",
        "magnesium",
        "total_phenols",
        "flavanoids",
        "nonflavanoid_phenols",
        "proanthocyanins",
        "color_intensity",
        "hue",
        "od280/od315_of_diluted_wines",
        "proline",
    ],
    "breast_cancer": [
        "mean radius",
        "mean texture",
        "mean perimeter",
        "mean area",
        "mean smoothness",
        "mean compactness",
        "mean concavity",
        "mean concave points",
        "mean symmetry",
        "mean fractal dimension",
        "radius error",
        "texture error",
        "perimeter error",
        "area error",
        "smoothness error",
        "compactness error",
        "concavity error",
        "concave points error",
        "symmetry error",
        "fractal dimension error",
        "worst radius",
        "worst texture",
        "worst perimeter",
        "worst area",
        "worst smoothness",
        "worst compactness",
        "worst concavity",
        "worst concave points",
        "worst symmetry",
        "worst fractal dimension",
    ],
    "digits": [f"pixel_{row}_{column}" for row in range(8) for column in range(8)],
}

# files below sklearn/datasets/data/; all but digits start with a header row
# "n_samples,n_features,class names..."
BUNDLED_FILES = {
    "iris": "iris.csv",
    "wine": "wine_data.csv",
    "breast_cancer": "breast_cancer.csv",
    "digits": "digits.csv.gz",
}
