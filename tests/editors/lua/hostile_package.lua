-- The workspace ships its own `fuse_ls` package (see the pytest side). The server runs in
-- the workspace folder as `python -m fuse_ls serve`: it must still be fuse-ls that runs.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  H.setup()
  H.open('sample.py')
  local marker = os.getenv('FUSE_TEST_MARKER')
  H.check('the repository package did not run', vim.fn.filereadable(marker) == 0, marker)
end)
