import { parseStartArgs } from '../app/start';

describe('npm start arguments', () => {
  test('options map to local mode settings', () => {
    expect(
      parseStartArgs(['--images-count', '20', '--epochs', '3', '--serve', '--port', '8080', '--retrain']),
    ).toMatchObject({
      imagesCount: 20,
      epochs: 3,
      serve: true,
      apiPort: 8080,
      retrain: true,
      secondExecution: true,
    });
    expect(parseStartArgs(['--no-second-run'])).toMatchObject({ secondExecution: false, serve: false });
    expect(parseStartArgs(['--serverless'])).toMatchObject({ endpointMode: 'serverless' });
    expect(parseStartArgs([]).endpointMode).toBeUndefined();
  });

  test('a count that is not a positive integer is rejected, naming the option and the value', () => {
    expect(() => parseStartArgs(['--epochs', 'ten'])).toThrow(
      '--epochs must be a positive integer, got "ten"',
    );
    expect(() => parseStartArgs(['--images-count', '0'])).toThrow(
      /--images-count must be a positive integer/,
    );
  });

  test('bring-your-own images need their labels, and labels need their images', () => {
    expect(() => parseStartArgs(['--images', 'photos'])).toThrow(/--images needs --labels/);
    expect(() => parseStartArgs(['--labels', 'coco.json'])).toThrow(/--labels needs --images/);
  });

  test('--detect names the folder batch detection runs on after the first execution', () => {
    expect(parseStartArgs(['--detect', 'more-photos'])).toMatchObject({ detect: 'more-photos' });
    expect(parseStartArgs([]).detect).toBeUndefined();
  });

  test('an unknown option is an error', () => {
    expect(() => parseStartArgs(['--epoch', '3'])).toThrow(/--epoch/);
  });
});
