/** A model folder that cannot be loaded: names the file, tensor or config field at fault. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

/** A model that loads but cannot be split or built as asked (tp, dtype, shapes). */
export class ModelBuildError extends Error {
  override name = 'ModelBuildError';
}
