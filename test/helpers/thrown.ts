// The error a synchronous call throws, checked to be of the expected class;
// fails the test when the call returns or throws something else.

export function thrown<E extends Error>(errorClass: new (...args: never[]) => E, run: () => unknown): E {
  try {
    run();
  } catch (error) {
    if (error instanceof errorClass) return error;
    throw error;
  }
  throw new Error(`expected a ${errorClass.name}`);
}
