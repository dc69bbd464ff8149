import pytest

from tests.events.servers import Mosquitto, Receiver


@pytest.fixture
def mosquitto(tmp_path):
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def receiver():
    r = Receiver("s3cret-key").up()
    yield r
    r.down()
