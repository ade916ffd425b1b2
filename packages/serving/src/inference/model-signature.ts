import { ModelLoadError } from '../errors/model-load-error';
import type { ModelCard, TensorSpec } from './model-card';
import type { IoInfo } from './session-runner';

/** A card's tensor and the graph's agree on element type and on every dimension the graph fixes. */
function checkTensor(kind: string, spec: TensorSpec, info: IoInfo | undefined): string | undefined {
  if (!info) return `${kind} '${spec.name}' of the card is not in the graph`;
  if (info.type !== undefined && info.type !== spec.type) {
    return `${kind} '${spec.name}' is ${info.type} in the graph but ${spec.type} in the card`;
  }
  if (info.shape !== undefined && info.shape.length > 0) {
    if (info.shape.length !== spec.shape.length) {
      return `${kind} '${spec.name}' has rank ${info.shape.length} in the graph but ${spec.shape.length} in the card`;
    }
    for (let i = 1; i < spec.shape.length; i++) {
      const got = info.shape[i];
      if (typeof got === 'number' && got >= 0 && got !== spec.shape[i]) {
        return `${kind} '${spec.name}' dimension ${i} is ${got} in the graph but ${spec.shape[i]} in the card`;
      }
    }
  }
  return undefined;
}

/**
 * Throws a ModelLoadError listing every way the graph's inputs and outputs differ from the card: names,
 * element types, ranks and fixed dimensions. A dimension the graph leaves symbolic takes the card's value.
 */
export function checkSignature(card: ModelCard, graph: { inputs: readonly IoInfo[]; outputs: readonly IoInfo[] }): void {
  const problems: string[] = [];
  const names = (list: readonly { name: string }[]) => list.map((t) => t.name).sort().join(', ');
  if (names(graph.inputs) !== names(card.inputs)) {
    problems.push(`graph has inputs [${names(graph.inputs)}], card has [${names(card.inputs)}]`);
  }
  for (const spec of card.inputs) {
    const p = checkTensor('input', spec, graph.inputs.find((i) => i.name === spec.name));
    if (p) problems.push(p);
  }
  for (const spec of card.outputs) {
    const p = checkTensor('output', spec, graph.outputs.find((o) => o.name === spec.name));
    if (p) problems.push(p);
  }
  if (problems.length > 0) throw new ModelLoadError(`model version ${card.version} does not match its card`, { problems });
}
