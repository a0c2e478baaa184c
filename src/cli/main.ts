// The command-line face (a later issue fills it).
console.log('model-perf: not yet implemented');
