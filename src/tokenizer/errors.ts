/** A tokenizer folder that cannot be loaded, or a call it cannot serve: names the file or field at fault. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/** A chat template that is missing, does not parse, or fails while rendering. */
export class ChatTemplateError extends TokenizerError {
  override name = 'ChatTemplateError';
}
