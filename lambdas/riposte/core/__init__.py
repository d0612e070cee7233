"""The pure core: the values every part speaks (``model``), typed configuration (``config``), registries
(``registry``), the central guard (``guard``), scoring (``scoring``), the NACL planner (``nacl``) and the ports
the world is reached through (``ports``). Nothing here imports boto3, urllib3, Powertools or any other riposte
package; a test keeps it that way."""
